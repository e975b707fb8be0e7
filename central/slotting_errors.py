"""Errors of slotting (plans, putaway by plan, re-slot lists); the API maps them like every
CentralError (NotFound 404, Conflict 409, RuleViolation 422).

CentralError (central.domain.errors)
 ├── NotFound
 │    ├── NoSlottingPlan
 │    ├── UnknownSlottingPlan
 │    └── UnknownReslotList
 ├── Conflict
 │    ├── ReslotListNotProposed
 │    ├── ReslotInProgress
 │    └── StaleReslotList
 └── RuleViolation
      └── SlottingInfeasible
"""

from central.domain.errors import Conflict, NotFound, RuleViolation


class NoSlottingPlan(NotFound):
    """The site has no current slotting plan; compute one (POST /slotting/plans)."""


class UnknownSlottingPlan(NotFound):
    """No slotting plan with this id."""


class UnknownReslotList(NotFound):
    """No re-slot list with this id."""


class ReslotListNotProposed(Conflict):
    """Only a proposed re-slot list can be accepted (this one was accepted already)."""


class ReslotInProgress(Conflict):
    """Another re-slot list of the site is still being carried out; finish it first."""


class StaleReslotList(Conflict):
    """Pallets or bins changed since the list was proposed; propose a new one."""


class SlottingInfeasible(RuleViolation):
    """No plan places every item: too few compatible bins (temperature, hazard, size, weight)."""
