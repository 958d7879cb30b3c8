"""template.yaml as CloudFormation would deploy it, for given parameters.

Each case expands the template with SAM CLI's own AWS::LanguageExtensions implementation (the code
`sam build` and `sam deploy` run with language_extensions on: Fn::ForEach, Fn::Sub, Fn::Select,
... resolved with the parameters), then evaluates the Conditions and keeps the resources whose
condition holds: the resources the stack would have. Run by scripts/test-template:

    .venv/bin/python -m unittest discover -s tests/template -v
"""

import copy
import pathlib
import re
import unittest

from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samcli.yamlhelper import yaml_parse

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "template.yaml"
SOURCE = yaml_parse(TEMPLATE.read_text())
OWN = "/aws/lambda/lambda-watchdog"


class Stack:
    """The resources a stack of template.yaml would hold with these parameter values."""

    def __init__(self, **parameters):
        self.parameters = {
            name: spec.get("Default") for name, spec in SOURCE["Parameters"].items()
        }
        self.parameters.update(parameters)
        expanded = expand_language_extensions(
            copy.deepcopy(SOURCE), parameter_values=dict(parameters), enabled=True
        ).expanded_template
        self.template = expanded
        self.conditions = {}
        self.resources = {
            logical_id: resource
            for logical_id, resource in expanded["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node):
        (function, args), = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.truth(arg) for arg in args)
        if function == "Fn::Equals":
            left, right = (self.value(arg) for arg in args)
            return str(left) == str(right)
        raise AssertionError(f"condition function {function} is not evaluated here")

    def value(self, node):
        """A property value, with Ref to a parameter, or to the function (its name), resolved."""
        if isinstance(node, dict) and list(node) == ["Ref"]:
            target = node["Ref"]
            if target in self.parameters:
                value = self.parameters[target]
                return ",".join(value) if isinstance(value, list) else value
            resource = self.template["Resources"].get(target, {})
            if resource.get("Type") == "AWS::Serverless::Function":
                return self.value(resource["Properties"]["FunctionName"])
            return node
        if isinstance(node, dict) and list(node) == ["Fn::Sub"] and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.value({"Ref": m.group(1)})), node["Fn::Sub"])
        if isinstance(node, dict) and list(node) == ["Fn::If"]:
            name, if_true, if_false = node["Fn::If"]
            return self.value(if_true if self.condition(name) else if_false)
        if isinstance(node, list):
            return [self.value(item) for item in node if item != {"Ref": "AWS::NoValue"}]
        if isinstance(node, dict):
            return {key: self.value(item) for key, item in node.items() if item != {"Ref": "AWS::NoValue"}}
        return node

    def of_type(self, resource_type):
        return {
            logical_id: self.value(resource.get("Properties", {}))
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def filters(self):
        """(log group, filter name) of every subscription filter, by logical id."""
        return {
            logical_id: (props["LogGroupName"], props["FilterName"])
            for logical_id, props in self.of_type("AWS::Logs::SubscriptionFilter").items()
        }

    def alarm(self, logical_id):
        assert logical_id in self.resources, f"alarm {logical_id} is missing"
        return self.value(self.resources[logical_id]["Properties"])


FLEET = ["/aws/lambda/orders", "/aws/lambda/billing"]


class ModeSwitches(unittest.TestCase):
    def test_each_listed_group_gets_one_filter_in_log_groups_and_kinesis_modes(self):
        for mode in ["LogGroups", "Kinesis"]:
            with self.subTest(mode=mode):
                groups = sorted(group for group, _ in Stack(SubscriptionMode=mode, LogGroupNames=FLEET).filters().values())
                self.assertEqual(groups, sorted(FLEET))

    def test_switching_modes_creates_filters_under_other_names_and_logical_ids(self):
        # CloudFormation creates the new mode's filters before it deletes the old ones: a filter of
        # the same name on the same group, or the same logical id changing type, fails the update.
        direct = Stack(SubscriptionMode="LogGroups", LogGroupNames=FLEET).filters()
        stream = Stack(SubscriptionMode="Kinesis", LogGroupNames=FLEET).filters()
        self.assertFalse(set(direct) & set(stream), "logical ids shared by both modes")
        self.assertFalse(set(direct.values()) & set(stream.values()), "filters with the same name on the same group")
        for group in FLEET:
            names = {name for g, name in direct.values() if g == group} | {name for g, name in stream.values() if g == group}
            self.assertEqual(len(names), 2, f"{group} gets {names}")

    def test_kinesis_mode_keeps_each_log_stream_on_one_shard_in_order(self):
        # The processor counts a stream exactly only when one container sees its batches in order.
        filters = Stack(SubscriptionMode="Kinesis", LogGroupNames=FLEET).of_type("AWS::Logs::SubscriptionFilter")
        self.assertEqual(len(filters), len(FLEET))
        for logical_id, props in filters.items():
            self.assertEqual(props["Distribution"], "ByLogStream", logical_id)

    def test_account_policy_mode_creates_no_group_filters(self):
        stack = Stack(SubscriptionMode="AccountPolicy", LogGroupNames=FLEET)
        self.assertEqual(stack.filters(), {})
        self.assertIn("AccountSubscriptionPolicy", stack.resources)


class OwnLogGroup(unittest.TestCase):
    def test_listing_the_own_group_creates_no_filter_and_fails_the_deployment(self):
        others = [f"/aws/lambda/worker-{i:03}" for i in range(149)]
        cases = [
            ("first of two", "lambda-watchdog", [OWN, FLEET[0]]),
            ("last of two", "lambda-watchdog", [FLEET[0], OWN]),
            ("the only name", "lambda-watchdog", [OWN]),
            ("the 150th name", "lambda-watchdog", others + [OWN]),
            ("another function name", "fleet-eye", [FLEET[0], "/aws/lambda/fleet-eye", FLEET[1]]),
        ]
        for mode in ["LogGroups", "Kinesis"]:
            for label, function, names in cases:
                with self.subTest(mode=mode, case=label):
                    stack = Stack(SubscriptionMode=mode, FunctionName=function, LogGroupNames=names)
                    self.assertEqual(stack.filters(), {})
                    refusal = stack.of_type("AWS::SSM::Parameter")["OwnLogGroupRefused"]
                    # Systems Manager rejects a value that does not match the pattern, and quotes it.
                    self.assertIsNone(re.fullmatch(refusal["AllowedPattern"], refusal["Value"]))
                    self.assertIn(f"/aws/lambda/{function}", refusal["Value"])
                    self.assertIn("Remove it from LogGroupNames", refusal["Value"])

    def test_names_that_only_resemble_the_own_group_are_subscribed(self):
        names = [
            "/aws/lambda/lambda-watchdog-2",
            "/aws/lambda/lambda-watchdo",
            "/aws/lambda/x/aws/lambda/lambda-watchdog",
            "/aws/lambda/lambda-watchdog/x",
        ]
        for mode in ["LogGroups", "Kinesis"]:
            with self.subTest(mode=mode):
                stack = Stack(SubscriptionMode=mode, LogGroupNames=names)
                self.assertEqual(sorted(g for g, _ in stack.filters().values()), sorted(names))
                self.assertNotIn("OwnLogGroupRefused", stack.resources)

    def test_account_policy_mode_ignores_log_group_names_and_leaves_the_own_group_out(self):
        stack = Stack(SubscriptionMode="AccountPolicy", LogGroupNames=[OWN])
        self.assertNotIn("OwnLogGroupRefused", stack.resources)
        policy = stack.of_type("AWS::Logs::AccountPolicy")["AccountSubscriptionPolicy"]
        self.assertIn(f'NOT IN ["{OWN}"]', policy["SelectionCriteria"])


class WatchdogAlarms(unittest.TestCase):
    PARAMETERS = dict(FunctionName="fleet-eye", MetricNamespace="Acme/Watchdog", LogGroupNames=FLEET)

    def assert_processor_metric(self, alarm, metric):
        self.assertEqual(alarm["Namespace"], "Acme/Watchdog")
        self.assertEqual(alarm["MetricName"], metric)
        self.assertEqual(alarm["Dimensions"], [{"Name": "Processor", "Value": "fleet-eye"}])

    def test_silence_alarm_fires_on_missing_batches_after_the_chosen_minutes(self):
        alarm = Stack(SilenceAlarmMinutes="45", **self.PARAMETERS).alarm("WatchdogSilenceAlarm")
        self.assert_processor_metric(alarm, "BatchesProcessed")
        self.assertEqual(alarm["TreatMissingData"], "breaching")
        self.assertEqual((alarm["ComparisonOperator"], alarm["Threshold"]), ("LessThanThreshold", 1))
        self.assertEqual(alarm["Period"] * int(alarm["EvaluationPeriods"]), 45 * 60)
        self.assertEqual(alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"])
        self.assertIn({"Ref": "NoticesTopic"}, self.raw("WatchdogSilenceAlarm")["AlarmActions"])

    def test_silence_alarm_is_left_out_at_zero_minutes(self):
        self.assertNotIn("WatchdogSilenceAlarm", Stack(SilenceAlarmMinutes="0", **self.PARAMETERS).resources)

    def test_failure_alarms_read_the_processor_metrics_and_tolerate_late_datapoints(self):
        stack = Stack(**self.PARAMETERS)
        for logical_id, metric in [("NoticeFailuresAlarm", "NoticeFailures"), ("DecodeFailuresAlarm", "DecodeFailures")]:
            with self.subTest(alarm=logical_id):
                alarm = stack.alarm(logical_id)
                self.assert_processor_metric(alarm, metric)
                self.assertEqual(alarm["TreatMissingData"], "notBreaching")
                self.assertEqual((alarm["ComparisonOperator"], alarm["Threshold"]), ("GreaterThanOrEqualToThreshold", 1))

    def test_every_alarm_on_watchdog_counts_looks_back_over_several_periods(self):
        # EMF datapoints land at the logs' minute, after delivery: an alarm judging one period
        # only would miss those that arrive late.
        stack = Stack(**self.PARAMETERS)
        counted = {
            logical_id: props
            for logical_id, props in stack.of_type("AWS::CloudWatch::Alarm").items()
            if props.get("Namespace") == "Acme/Watchdog" and props["TreatMissingData"] == "notBreaching"
        }
        self.assertGreaterEqual(len(counted), 7, sorted(counted))
        for logical_id, alarm in counted.items():
            with self.subTest(alarm=logical_id):
                self.assertGreaterEqual(alarm["EvaluationPeriods"], 3)
                self.assertEqual(alarm["DatapointsToAlarm"], 1)

    def test_iterator_age_alarm_exists_in_kinesis_mode_only(self):
        self.assertNotIn("IteratorAgeAlarm", Stack(**self.PARAMETERS).resources)
        alarm = Stack(SubscriptionMode="Kinesis", IteratorAgeAlarmSeconds="900", **self.PARAMETERS).alarm("IteratorAgeAlarm")
        age = next(m for m in alarm["Metrics"] if m["Id"] == "age")["MetricStat"]["Metric"]
        self.assertEqual(
            age,
            {"Namespace": "AWS/Lambda", "MetricName": "IteratorAge", "Dimensions": [{"Name": "FunctionName", "Value": "fleet-eye"}]},
        )
        seconds = next(m for m in alarm["Metrics"] if m.get("ReturnData"))
        self.assertEqual(seconds["Expression"], "age / 1000")
        self.assertEqual(int(alarm["Threshold"]), 900)

    def raw(self, logical_id):
        return SOURCE["Resources"][logical_id]["Properties"]


class Guardrails(unittest.TestCase):
    def test_roles_take_the_boundary_and_path(self):
        boundary = "arn:aws:iam::123456789012:policy/boundary"
        stack = Stack(SubscriptionMode="Kinesis", LogGroupNames=FLEET, PermissionsBoundaryArn=boundary, RolePath="/watchdog/")
        roles = stack.of_type("AWS::IAM::Role")
        self.assertEqual(sorted(roles), ["FunctionRole", "LogsToStreamRole"])
        for name, role in roles.items():
            with self.subTest(role=name):
                self.assertEqual(role["PermissionsBoundary"], boundary)
                self.assertEqual(role["Path"], "/watchdog/")

    def test_tracing_is_off_unless_asked_and_then_may_write_to_x_ray(self):
        for tracing, policy_expected in [("PassThrough", False), ("Active", True)]:
            with self.subTest(tracing=tracing):
                stack = Stack(Tracing=tracing, LogGroupNames=FLEET)
                function = stack.value(stack.resources["WatchdogFunction"]["Properties"])
                self.assertEqual(function["Tracing"], tracing)
                policies = [p["PolicyName"] for p in stack.of_type("AWS::IAM::Role")["FunctionRole"]["Policies"] if isinstance(p, dict) and "PolicyName" in p]
                self.assertEqual("xray-write" in policies, policy_expected, policies)


class SharedState(unittest.TestCase):
    def test_the_state_table_is_created_and_named_to_the_function_unless_disabled(self):
        stack = Stack(LogGroupNames=FLEET)
        tables = stack.of_type("AWS::DynamoDB::Table")
        self.assertEqual(list(tables), ["StateTable"])
        table = tables["StateTable"]
        self.assertEqual(table["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(table["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(table["TimeToLiveSpecification"], {"AttributeName": "expires", "Enabled": True})
        self.assertTrue(table["SSESpecification"]["SSEEnabled"])
        function = stack.value(stack.resources["WatchdogFunction"]["Properties"])
        self.assertEqual(function["Environment"]["Variables"]["WATCHDOG_STATE_TABLE"], {"Ref": "StateTable"})
        policies = {p["PolicyName"]: p for p in stack.of_type("AWS::IAM::Role")["FunctionRole"]["Policies"]}
        statement = policies["share-invocation-state"]["PolicyDocument"]["Statement"][0]
        self.assertEqual(sorted(statement["Action"]), ["dynamodb:PutItem", "dynamodb:UpdateItem"])

    def test_disabled_shared_state_creates_no_table_and_leaves_the_variable_empty(self):
        stack = Stack(LogGroupNames=FLEET, SharedState="Disabled")
        self.assertEqual(stack.of_type("AWS::DynamoDB::Table"), {})
        function = stack.value(stack.resources["WatchdogFunction"]["Properties"])
        self.assertEqual(function["Environment"]["Variables"]["WATCHDOG_STATE_TABLE"], "")
        policies = [p["PolicyName"] for p in stack.of_type("AWS::IAM::Role")["FunctionRole"]["Policies"]]
        self.assertNotIn("share-invocation-state", policies)



class FleetDeadLetters(unittest.TestCase):
    QUEUES = ["orders-dlq", "billing_dlq"]

    def test_each_watched_queue_gets_an_alarm_that_reaches_the_function(self):
        stack = Stack(LogGroupNames=FLEET, WatchedDeadLetterQueueNames=self.QUEUES)
        alarms = {
            props["AlarmName"]: props
            for props in stack.of_type("AWS::CloudWatch::Alarm").values()
            if props.get("Namespace") == "AWS/SQS" and props["AlarmName"].startswith("lambda-watchdog-dead-letters-")
        }
        self.assertEqual(
            sorted(alarms), ["lambda-watchdog-dead-letters-billing_dlq", "lambda-watchdog-dead-letters-orders-dlq"]
        )
        alarm = alarms["lambda-watchdog-dead-letters-orders-dlq"]
        self.assertEqual(alarm["MetricName"], "ApproximateNumberOfMessagesVisible")
        self.assertEqual(alarm["Dimensions"], [{"Name": "QueueName", "Value": "orders-dlq"}])
        self.assertEqual((alarm["Threshold"], alarm["ComparisonOperator"]), (1, "GreaterThanOrEqualToThreshold"))
        self.assertNotIn("AlarmActions", alarm, "the function sends the notice, with the logs")
        rule = stack.of_type("AWS::Events::Rule")["DeadLetterAlarmRule"]
        pattern = rule["EventPattern"]
        self.assertEqual(pattern["detail-type"], ["CloudWatch Alarm State Change"])
        self.assertEqual(pattern["detail"]["alarmName"], [{"prefix": "lambda-watchdog-dead-letters-"}])
        self.assertEqual(pattern["detail"]["state"], {"value": ["ALARM"]})
        self.assertIn("DeadLetterAlarmInvokePermission", stack.resources)
        variables = stack.value(stack.resources["WatchdogFunction"]["Properties"])["Environment"]["Variables"]
        self.assertEqual(variables["WATCHDOG_DEAD_LETTER_QUEUES"], "orders-dlq,billing_dlq")

    def test_the_function_may_peek_at_the_watched_queues_only_and_never_delete(self):
        stack = Stack(LogGroupNames=FLEET, WatchedDeadLetterQueueNames=self.QUEUES)
        policies = stack.of_type("AWS::IAM::RolePolicy")
        self.assertEqual(len(policies), 2, list(policies))
        for policy in policies.values():
            (statement,) = policy["PolicyDocument"]["Statement"]
            self.assertEqual(
                sorted(statement["Action"]),
                ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues", "sqs:ReceiveMessage"],
            )
            queue = statement["Resource"].rsplit(":", 1)[1]
            self.assertIn(queue, self.QUEUES)
        role = {p["PolicyName"]: p for p in stack.of_type("AWS::IAM::Role")["FunctionRole"]["Policies"]}
        actions = [
            action
            for statement in role["read-dead-letter-evidence"]["PolicyDocument"]["Statement"]
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        ]
        self.assertEqual(
            sorted(actions), ["kms:Decrypt", "lambda:ListEventSourceMappings", "lambda:ListFunctions", "logs:FilterLogEvents"]
        )
        every = str(stack.template["Resources"])
        for forbidden in ["sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue", "sqs:*"]:
            self.assertNotIn(forbidden, every)

    def test_the_schedule_is_only_there_when_asked_for(self):
        for schedule, expected in [("", False), ("rate(5 minutes)", True)]:
            with self.subTest(schedule=schedule):
                stack = Stack(
                    LogGroupNames=FLEET, WatchedDeadLetterQueueNames=self.QUEUES, DeadLetterCheckSchedule=schedule
                )
                rules = stack.of_type("AWS::Events::Rule")
                self.assertEqual("DeadLetterCheckRule" in rules, expected)
                if expected:
                    target = rules["DeadLetterCheckRule"]["Targets"][0]
                    self.assertEqual(target["Input"], '{"watchdog":"dead-letter-check"}')
                    self.assertEqual(rules["DeadLetterCheckRule"]["ScheduleExpression"], schedule)

    def test_without_watched_queues_nothing_is_created_or_granted(self):
        stack = Stack(LogGroupNames=FLEET, DeadLetterCheckSchedule="rate(5 minutes)")
        self.assertEqual(stack.of_type("AWS::IAM::RolePolicy"), {})
        own = {"DeadLetterQueue", "DeadLetterQueueAlarm"}
        self.assertFalse(any(r.startswith("DeadLetter") and r not in own for r in stack.resources), list(stack.resources))
        policies = [p["PolicyName"] for p in stack.of_type("AWS::IAM::Role")["FunctionRole"]["Policies"]]
        self.assertNotIn("read-dead-letter-evidence", policies)


if __name__ == "__main__":
    unittest.main()
