"""Deploy hygiene of template.yaml (tracker issue 15).

Sources:
- Lambda asynchronous invocation, on-failure destinations (EventBridge schedules invoke asynchronously):
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
- SAM ``EventInvokeConfig``:
  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-eventinvokeconfiguration.html
- ``DeletionPolicy`` / ``UpdateReplacePolicy``:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
"""

from __future__ import annotations

import pytest

from backout_dev.template import load_template, resources_of

TEMPLATE = load_template()
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")
ASYNC_EVENTS = ("Schedule", "ScheduleV2", "EventBridgeRule", "SNS", "S3", "CloudWatchEvent")
SCHEDULED = sorted(k for k, r in FUNCTIONS.items()
                   if any(e["Type"] in ASYNC_EVENTS for e in (r["Properties"].get("Events") or {}).values()))


def test_the_scheduled_functions_are_found() -> None:
    assert {"WatchdogFunction", "OzonPollerFunction", "GuardrailsFunction", "AuditFunction"} <= set(SCHEDULED)


@pytest.mark.parametrize("logical", SCHEDULED)
def test_every_asynchronous_function_has_an_on_failure_destination_it_may_send_to(logical: str) -> None:
    props = FUNCTIONS[logical]["Properties"]
    on_failure = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
    assert on_failure.get("Type") == "SQS", logical
    queue = on_failure["Destination"]["Fn::GetAtt"][0]
    assert TEMPLATE["Resources"][queue]["Type"] == "AWS::SQS::Queue"
    # the function's role must be allowed to send there, or the destination silently drops the record
    allowed = [p["SQSSendMessagePolicy"]["QueueName"] for p in props["Policies"] if "SQSSendMessagePolicy" in p]
    assert {"Fn::GetAtt": [queue, "QueueName"]} in allowed, logical


@pytest.mark.parametrize("logical", sorted(resources_of(TEMPLATE, "AWS::SecretsManager::Secret")))
def test_secrets_are_retained_on_delete_and_replacement(logical: str) -> None:
    secret = TEMPLATE["Resources"][logical]
    assert secret.get("DeletionPolicy") == "Retain"
    assert secret.get("UpdateReplacePolicy") == "Retain"


def test_the_watchdog_probes_the_configured_paypal_not_live_by_default() -> None:
    env = FUNCTIONS["WatchdogFunction"]["Properties"]["Environment"]["Variables"]
    assert env.get("PAYPAL_API_BASE") == {"Ref": "PayPalApiBaseUrl"}


def test_every_alarm_action_is_a_topic_cloudwatch_can_publish_to() -> None:
    """CloudWatch cannot publish to a topic under alias/aws/sns; a customer key must let it use the key
    (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger and
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    resources = TEMPLATE["Resources"]
    policies = resources_of(TEMPLATE, "AWS::SNS::TopicPolicy").values()
    for name, alarm in resources_of(TEMPLATE, "AWS::CloudWatch::Alarm").items():
        actions = alarm["Properties"].get("AlarmActions") or []
        assert actions, name
        for action in actions + (alarm["Properties"].get("OKActions") or []):
            topic = action["Ref"]
            key = resources[topic]["Properties"].get("KmsMasterKeyId")
            assert isinstance(key, dict) and "Ref" in key, f"{name}: {topic} needs a customer-managed key"
            statements = resources[key["Ref"]]["Properties"]["KeyPolicy"]["Statement"]
            assert any(s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
                       and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(s["Action"]) for s in statements), name
            assert any({"Ref": topic} in p["Properties"]["Topics"] and any(
                s["Principal"].get("Service") == "cloudwatch.amazonaws.com" and s["Action"] == "sns:Publish"
                for s in p["Properties"]["PolicyDocument"]["Statement"]) for p in policies), name
