"""Optimizers (OR-Tools): each is problem in, result out, and never touches the database.

One module per optimizer (e.g. `central.optimizers.slotting`), each with a frozen problem
dataclass, `solve(problem, *, time_limit_s, seed)` and a result dataclass.
"""
