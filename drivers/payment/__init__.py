"""Payment terminals (issue #12). Importing this package registers them (see
drivers.registry); pyserial is imported only when a serial terminal opens."""
