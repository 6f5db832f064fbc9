"""synthworld's command line; the library lives in `populations`, `abm` and `scenarios`."""
