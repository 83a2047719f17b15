"""Issue trees (`agent:plan-auto`): plan a parent into child issues, run them in dependency order, integrate."""
