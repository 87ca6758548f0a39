"""The HTTP face: app factory, middleware, dependencies, and one route module per resource."""
