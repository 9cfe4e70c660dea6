"""alerter: no sales lead falls through the cracks.

Evaluates declarative YAML SLA rules against Salesforce records and nudges the people who own
them. The pure core is ``alerter.evaluate``; everything that talks to the world is a thin shell.
"""

__version__ = "0.1.0"
