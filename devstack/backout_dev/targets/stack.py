"""A deployed Backout stack as an OperatorTarget: `backout --stack NAME [--region R] [--profile P]`.

The CloudFormation stack's outputs name the operator API (``OperatorApiUrl``, else ``WebhookApiUrl``);
every call is SigV4-signed (botocore's signer, backout_dev.sigv4) with the operator's own AWS
credentials, as the routes' AWS_IAM authorizer requires. The credentials come from ``profile`` or the
AWS environment, as for the AWS CLI, and are refreshed by botocore when they are temporary.
"""

from __future__ import annotations

from typing import Any

from backout_dev.targets.base import TargetError
from backout_dev.targets.signed import SignedOperatorApi

#: Outputs that name the operator API, in order of preference (template.yaml's Outputs).
URL_OUTPUTS = ("OperatorApiUrl", "WebhookApiUrl")


def stack_outputs(session: Any, stack: str) -> dict[str, str]:
    """The stack's outputs (key -> value) through CloudFormation's DescribeStacks."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise TargetError(0, f"stack {stack}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise TargetError(0, f"stack {stack}: {exc}") from exc
    if not stacks:
        raise TargetError(0, f"stack {stack} not found")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}


class StackTarget(SignedOperatorApi):
    """OperatorTarget for a deployed CloudFormation stack."""

    def __init__(self, name: str, url: str, credentials: Any, region: str) -> None:
        super().__init__(url, credentials, region)
        self.name = name

    @classmethod
    def open(cls, stack: str, region: str | None = None, profile: str | None = None) -> "StackTarget":
        """The stack ``stack`` in ``region`` seen with ``profile``'s credentials (else the AWS environment's)."""
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except BotoCoreError as exc:
            raise TargetError(0, str(exc)) from exc
        if not session.region_name:
            raise TargetError(0, "no region: pass --region or set AWS_REGION / the profile's region")
        credentials = session.get_credentials()
        if credentials is None:
            raise TargetError(0, "no AWS credentials: pass --profile or set the AWS environment")
        outputs = stack_outputs(session, stack)
        url = next((outputs[k] for k in URL_OUTPUTS if outputs.get(k)), None)
        if url is None:
            raise TargetError(0, f"stack {stack} has no {' or '.join(URL_OUTPUTS)} output: is it a Backout stack?")
        return cls(stack, url, credentials, session.region_name)
