"""backprop-check, the command-line app, one job per module:

  app       main: the run from argv to exit status (its docstring: the rules, the JSON shape)
  parse     the options: the parser, the validated Settings, the networks they choose
  load      the code checked: the built-in implementations or the user's --impl, guarded
  sweep     the networks a run may check, and the batch each is checked on
  run       every network x implementation checked, tallied into one row per equation
  render    what is printed: the table, the JSON object, which report --plot draws
  junit     the run as a JUnit XML report (--junit-xml)
  progress  the progress line on stderr
  streams   stdout and stderr whose reader goes away or that were closed at start
"""

from checks.cli.app import main

__all__ = ["main"]
