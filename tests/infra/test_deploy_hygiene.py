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


def _alarm_metrics(alarm: dict) -> set[tuple[str, str]]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return {(props["Namespace"], props["MetricName"])}
    return {(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
            for m in props["Metrics"] if "MetricStat" in m}


def test_an_alarm_fires_on_failed_and_timed_out_executions_of_the_saga() -> None:
    alarm = TEMPLATE["Resources"]["FailedExecutionsAlarm"]
    assert _alarm_metrics(alarm) == {("AWS/States", "ExecutionsFailed"), ("AWS/States", "ExecutionsTimedOut")}
    for metric in alarm["Properties"]["Metrics"]:
        if "MetricStat" in metric:
            assert metric["MetricStat"]["Metric"]["Dimensions"] == [
                {"Name": "StateMachineArn", "Value": {"Ref": "CancellationStateMachine"}}]
    [expression] = [m for m in alarm["Properties"]["Metrics"] if m.get("ReturnData")]
    assert "failed" in expression["Expression"] and "timedout" in expression["Expression"]
    assert alarm["Properties"]["Threshold"] == 0 and alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"


def test_an_alarm_fires_when_the_oldest_hold_is_older_than_the_answer_window() -> None:
    from backout import metric_names as names

    alarm = TEMPLATE["Resources"]["OperatorQueueAgeAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Backout", names.OLDEST_HOLD_AGE)
    assert alarm["Threshold"] == {"Ref": "OperatorQueueMaxAgeSeconds"}
    assert TEMPLATE["Parameters"]["OperatorQueueMaxAgeSeconds"]["Default"] == 86400  # the seller's 24 hours
    assert alarm["Statistic"] == "Maximum" and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_an_alarm_fires_when_the_watchdog_could_not_check_a_wait() -> None:
    from backout import metric_names as names

    alarm = TEMPLATE["Resources"]["WatchdogFailuresAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Backout", names.WATCHDOG_WAIT_FAILURES)
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 0
