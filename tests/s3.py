"""A real S3 protocol endpoint for the tests: moto's standalone server on loopback, on a free port."""

from __future__ import annotations

import socket
from dataclasses import dataclass

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDMOTOTEST",
    "AWS_SECRET_ACCESS_KEY": "moto-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Endpoint:
    url: str

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` (if missing); its name."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(address: str = "127.0.0.1"):
    """moto's server in a thread of this process; ``(server, endpoint)``; ``server.stop()`` ends it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind((address, 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address=address, port=port, verbose=False)
    server.start()
    return server, S3Endpoint(f"http://{address}:{port}")
