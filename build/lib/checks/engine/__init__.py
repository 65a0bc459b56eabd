"""The engine every front door shares (check_network, gradcheck): numerical
derivatives and their error estimates (`stencils`), and the complex-safety
probe that decides whether the complex step may be used (`probe`)."""
