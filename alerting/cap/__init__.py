"""OASIS Common Alerting Protocol 1.2: our alerts as CAP documents (export), and the schema
they are checked against. The package carries its own copy of the OASIS XSD
(`CAP-v1.2.xsd`, Copyright OASIS Open 2010), so validation needs nothing outside it."""
