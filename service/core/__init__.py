"""The service layer: the routes in service.api only translate HTTP to calls of these modules."""
