"""The API Gateway v2 (HTTP APIs) control plane."""

from loam.services.apigateway.service import ApiGatewayService

__all__ = ["ApiGatewayService"]
