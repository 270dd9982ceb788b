"""The staff dashboard: server-rendered page shells, plain CSS and JavaScript modules that read the API live."""
