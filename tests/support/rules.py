"""The smallest valid rule set: every incident has a level, and level 1 goes to the commune."""

MINIMAL = """
[incident.attack]
weight = 1.0
window_hours = 6
levels = [{ score = 1.0 }, { reporters = 2, count = 10 }]
""" + "".join(
    f"\n[incident.{i}]\nweight = 0.5\nwindow_hours = 24\nlevels = [{{ reporters = 3 }}]\n"
    for i in ("kidnapping", "killing", "explosive", "cattle_theft", "armed_men", "displacement", "arson",
              "communal_clash", "trafficking")
) + """
[[route]]
area = "commune"
min_level = 1
"""
