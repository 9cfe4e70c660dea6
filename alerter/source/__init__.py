"""The live data source: Salesforce through simple-salesforce."""
