"""HTTP triggers: requests from plain HTTP clients that invoke functions (function URLs,
HTTP APIs), served on loam's port beside the AWS APIs."""
