"""Diagnostics the CSMS or a technician pulls from the station: the bundle
(``bundle``), its upload over HTTP(S) (``upload``) and the GetLog / GetDiagnostics
service that ties them to OCPP (``service``)."""
