"""The AWS resources the functions expect, created in moto: the exports bucket, the bulk
queue (with its dead-letter queue) and a verified SES sender. ``make dev`` and the
tests call `provision` once the moto server is up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto
EXPORTS_BUCKET = "invoiceflow-exports"
UPLOADS_BUCKET = "invoiceflow-uploads"
BULK_QUEUE = "invoiceflow-bulk"
WEBHOOK_QUEUE = "invoiceflow-webhooks"
# moto sends the uploads bucket's notifications here; devstack.queues hands them to the
# functions with an s3 event (Lambda's S3 trigger, which moto cannot call in server mode).
UPLOADS_EVENTS_QUEUE = "invoiceflow-uploads-events"
# Logos and avatars (functions/uploads): their own bucket (kept, unlike imports) and its
# notifications' queue for the uploads worker.
IMAGES_BUCKET = "invoiceflow-images"
IMAGES_EVENTS_QUEUE = "invoiceflow-images-events"
# Invoices in by email: SES's S3 action stores raw messages under inbound/ (tests and
# `make dev` put them there the same way); its notifications' queue for the mail worker.
INBOUND_BUCKET = "invoiceflow-inbound"
INBOUND_EVENTS_QUEUE = "invoiceflow-inbound-events"
INBOUND_EMAIL_DOMAIN = "inbound.invoiceflow.local"
SENDER = "invoices@invoiceflow.local"
# The KMS key of sensitive fields (shared/envelope.py) and the keyed hashes' key of the
# local stage (a secret in AWS: serverless.yml's FIELD_HASH_KEY).
FIELDS_KEY_ALIAS = "alias/invoiceflow-fields"
FIELD_HASH_KEY = "local-field-hash-key-not-a-secret"


@dataclass(frozen=True)
class Provisioned:
    endpoint: str
    exports_bucket: str
    bulk_queue_url: str
    sender: str
    uploads_bucket: str = UPLOADS_BUCKET
    uploads_events_queue_url: str = ""
    webhook_queue_url: str = ""
    webhook_dead_letter_queue_url: str = ""
    images_events_queue_url: str = ""
    inbound_events_queue_url: str = ""

    def bucket_events(self) -> dict[str, str]:
        """The queue carrying each bucket's notifications, by the names serverless.yml
        gives the bucket (its provider.s3 key and its name)."""
        if not self.uploads_events_queue_url:
            return {}
        found = {
            "uploads": self.uploads_events_queue_url,
            UPLOADS_BUCKET: self.uploads_events_queue_url,
        }
        if self.images_events_queue_url:
            found |= {
                "images": self.images_events_queue_url,
                IMAGES_BUCKET: self.images_events_queue_url,
            }
        if self.inbound_events_queue_url:
            found |= {
                "inbound": self.inbound_events_queue_url,
                INBOUND_BUCKET: self.inbound_events_queue_url,
            }
        return found

    def queue_urls(self) -> dict[str, str]:
        """The queues by the names serverless.yml gives them (logical id and name), for
        the SQS event sources (devstack.queues)."""
        return {
            "BulkQueue": self.bulk_queue_url,
            BULK_QUEUE: self.bulk_queue_url,
            "WebhookQueue": self.webhook_queue_url,
            WEBHOOK_QUEUE: self.webhook_queue_url,
        }

    def environment(self) -> dict[str, str]:
        """What the functions read (shared.settings and boto3)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "EXPORTS_BUCKET": self.exports_bucket,
            "BULK_QUEUE_URL": self.bulk_queue_url,
            "EMAIL_FROM": f"InvoiceFlow <{self.sender}>",
            "UPLOADS_BUCKET": self.uploads_bucket,
            "IMAGES_BUCKET": IMAGES_BUCKET,
            "INBOUND_BUCKET": INBOUND_BUCKET,
            "INBOUND_EMAIL_DOMAIN": INBOUND_EMAIL_DOMAIN,
            "WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "WEBHOOK_DEAD_LETTER_QUEUE_URL": self.webhook_dead_letter_queue_url,
            # Local receivers listen on 127.0.0.1 over plain HTTP (docs/integrations.md).
            "WEBHOOK_ALLOW_HTTP": "true",
            "KMS_KEY_ID": FIELDS_KEY_ALIAS,
            "FIELD_HASH_KEY": FIELD_HASH_KEY,
        }


def queue_with_dead_letters(
    sqs: Any, name: str, *, visibility_seconds: int, max_receives: int
) -> tuple[str, str]:
    """The queue ``name`` and its ``name-dlq``, messages moved there after
    ``max_receives`` receives (as serverless.yml's redrive policies); their URLs."""
    dead = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    return queue, dead


def provision(endpoint: str) -> Provisioned:
    """Creates (idempotently) what serverless.yml declares, in the moto at ``endpoint``."""
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    s3.create_bucket(Bucket=EXPORTS_BUCKET)
    # Reconciliation imports: the browser PUTs CSV files through presigned URLs, so the
    # bucket takes CORS PUTs; encrypted at rest (SSE-S3), as serverless.yml's UploadsBucket.
    s3.create_bucket(Bucket=UPLOADS_BUCKET)
    s3.put_bucket_encryption(
        Bucket=UPLOADS_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_cors(
        Bucket=UPLOADS_BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["PUT"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": ["Content-Type", "Content-Length"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    queue, _ = queue_with_dead_letters(sqs, BULK_QUEUE, visibility_seconds=120, max_receives=5)
    webhook_queue, webhook_dead = queue_with_dead_letters(
        sqs, WEBHOOK_QUEUE, visibility_seconds=360, max_receives=10
    )
    events = sqs.create_queue(QueueName=UPLOADS_EVENTS_QUEUE)["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=UPLOADS_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": events_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    # Logos and avatars: the browser POSTs a form (presigned POST), so CORS POSTs.
    s3.create_bucket(Bucket=IMAGES_BUCKET)
    s3.put_bucket_cors(
        Bucket=IMAGES_BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedMethods": ["POST"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 3000}
            ]
        },
    )
    images_events = sqs.create_queue(QueueName=IMAGES_EVENTS_QUEUE)["QueueUrl"]
    images_arn = sqs.get_queue_attributes(QueueUrl=images_events, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=IMAGES_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": images_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    # Inbound mail: private, encrypted, its notifications to the worker's queue.
    s3.create_bucket(Bucket=INBOUND_BUCKET)
    s3.put_bucket_encryption(
        Bucket=INBOUND_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    inbound_events = sqs.create_queue(QueueName=INBOUND_EVENTS_QUEUE)["QueueUrl"]
    inbound_arn = sqs.get_queue_attributes(QueueUrl=inbound_events, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=INBOUND_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": inbound_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    ses = boto3.client(
        "ses",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    ses.verify_email_identity(EmailAddress=SENDER)
    kms = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    if FIELDS_KEY_ALIAS not in aliases:
        made = kms.create_key(Description="InvoiceFlow sensitive fields")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=FIELDS_KEY_ALIAS, TargetKeyId=made)
    return Provisioned(
        endpoint=endpoint,
        exports_bucket=EXPORTS_BUCKET,
        bulk_queue_url=queue,
        sender=SENDER,
        uploads_events_queue_url=events,
        webhook_queue_url=webhook_queue,
        webhook_dead_letter_queue_url=webhook_dead,
        images_events_queue_url=images_events,
        inbound_events_queue_url=inbound_events,
    )
