"""Certificates, keys and security profiles (issue 11): the store in the state directory,
X.509 helpers, and the certificate CALLs of both OCPP versions."""
