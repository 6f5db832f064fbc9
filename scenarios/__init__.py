"""Built-in scenarios (transport, fraud, outbreak, ...), each a `mesa.Model` built on `abm`."""
