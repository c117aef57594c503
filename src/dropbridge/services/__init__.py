"""Use cases, one module per verb. They see the domain, the connector protocols and a unit of work."""
