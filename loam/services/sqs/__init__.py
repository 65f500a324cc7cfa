"""The SQS-compatible queue service, durable in the node's store."""

from loam.services.sqs.service import SqsService

__all__ = ["SqsService"]
