"""Follow-up plans (docs/nurture.md): thin adapters around the pure decisions of
crm_fishpond.engine.nurture. ``plans`` reads and checks a plan, ``enrol`` writes enrolments in bulk,
``crowd`` finds the profiles a plan's rule matches, ``steps`` issues due steps (ToDo, Event, email),
stops and completes them."""
