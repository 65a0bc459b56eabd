"""The engine every front door shares (check_network, gradcheck, and any other
check): the numerical derivatives and their error estimates (`stencils`), the
complex-safety probe that decides whether the complex step may be used
(`probe`), and a function known only as f, differentiated element by element
with its tolerance and kink re-reads (`blackbox`, gradcheck's engine)."""
