"""The network checker's internals, behind `checks.network.check_network`.

In the order a check runs:
  error_model   the float64 reference; the table of local rounding terms; E, F, the tolerance
  sampled       the sampled deviations D, from the same table
  perturb       the numerical derivatives (perturbations run onward), kinks, directions
  tangent       the complex-step derivatives as forward tangents (real products)
  diagnose      what a failure says: the first broken equation and the slip
  identity      the a - y = general BP1 check of the simplified output delta, in float64
"""
