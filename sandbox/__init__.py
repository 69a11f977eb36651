"""Local HTTPS sandbox of the Entra login endpoint, Microsoft Graph (CA subset) and CIPP-API.

Development and test tool of msp.conditional_access; not part of the built collection.
"""
