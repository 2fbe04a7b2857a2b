"""build-image on AWS (#20.7): the EC2 Image Builder stack (cfn-lint, every rule), the
imageBuildStatus logic on response shapes as AWS documents them (DescribeStacks, DescribeImages,
Image Builder GetImage), and the verbs against a moto server on loopback as far as moto goes.

moto has no Image Builder: it creates the stack's role, profile and log group and skips the
``AWS::ImageBuilder::*`` resources, so no build runs and no AMI is distributed. The moto test makes
the AMI Image Builder would distribute (an EC2 CreateImage with the image's tags) to drive
describe/list/delete through their real EC2 and CloudFormation calls. Nothing here has run
against Image Builder itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import Runner

from corral.config.loader import load_image_config_text
from corral.errors import BadRequestError, ConflictError, NotFoundError
from corral.providers.aws import AwsProvider
from corral.providers.aws._images import build_status, describe_document, summary
from corral.providers.aws.template._image import IMAGE_ID_TAG, build_image_template, image_log_group
from support.aws import aws_endpoint

CONFIG = """Image:
  Name: lab-image
  Tags:
    - Key: team
      Value: lab
  RootVolume:
    Size: 60
    Encrypted: true
Build:
  InstanceType: c5.xlarge
  ParentImage: {parent}
  SubnetId: subnet-0123456789abcdef0
  SecurityGroupIds: [sg-0123456789abcdef0]
  UpdateOsPackages:
    Enabled: true
  Components:
    - Type: script
      Value: s3://lab-bucket/install-tools.sh
    - Type: script
      Value: https://example.com/configure.sh
    - Type: arn
      Value: arn:aws:imagebuilder:us-east-1:aws:component/amazon-cloudwatch-agent-linux/1.0.1
  Tags:
    - Key: cost
      Value: lab
DevSettings:
  DisableValidateAndTest: false
  DisableKernelUpdate: true
  DistributionConfiguration:
    Regions: {regions}
    LaunchPermission: '{{"UserIds": ["123456789012"]}}'
"""
MINIMAL = """Build:
  InstanceType: c5.xlarge
  ParentImage: arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x
"""


def config_of(text: str) -> Any:
    return load_image_config_text(text).config


def full(parent: str = "ami-0123456789abcdef0", regions: str = "us-east-1,eu-west-1") -> str:
    return CONFIG.format(parent=parent, regions=regions)


# -- the template ----------------------------------------------------------------------------


def test_the_stack_has_pcluster_s_image_builder_shape() -> None:
    body = build_image_template(config_of(full()), "lab-1", root_device="/dev/sda1")
    resources = body["Resources"]
    kinds = {k: v["Type"] for k, v in resources.items()}
    assert kinds["CorralImage"] == "AWS::ImageBuilder::Image"
    assert kinds["ImageRecipe"] == "AWS::ImageBuilder::ImageRecipe"
    assert kinds["InfrastructureConfiguration"] == "AWS::ImageBuilder::InfrastructureConfiguration"
    assert kinds["DistributionConfiguration"] == "AWS::ImageBuilder::DistributionConfiguration"
    assert (
        kinds["InstanceRole"] == "AWS::IAM::Role" and kinds["InstanceProfile"] == "AWS::IAM::InstanceProfile"
    )
    assert resources["BuildLogGroup"]["Properties"]["LogGroupName"] == image_log_group("lab-1")
    recipe = resources["ImageRecipe"]["Properties"]
    order = [c["ComponentArn"] for c in recipe["Components"]]
    assert order == [
        {"Ref": "UpdateOSComponent"},
        {"Ref": "CorralComponent"},
        {"Ref": "ScriptComponent0"},
        {"Ref": "ScriptComponent1"},
        "arn:aws:imagebuilder:us-east-1:aws:component/amazon-cloudwatch-agent-linux/1.0.1",
        {"Ref": "TagComponent"},
        {"Ref": "ValidateComponent"},
        {"Ref": "TestComponent"},
    ]
    assert recipe["ParentImage"] == "ami-0123456789abcdef0"
    [root] = recipe["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/sda1" and root["Ebs"]["VolumeSize"] == 60 and root["Ebs"]["Encrypted"]
    infra = resources["InfrastructureConfiguration"]["Properties"]
    assert infra["InstanceTypes"] == ["c5.xlarge"] and infra["SubnetId"] == "subnet-0123456789abcdef0"
    assert infra["InstanceMetadataOptions"]["HttpTokens"] == "required"
    distributions = resources["DistributionConfiguration"]["Properties"]["Distributions"]
    assert [d["Region"] for d in distributions] == ["us-east-1", "eu-west-1"]
    ami = distributions[0]["AmiDistributionConfiguration"]
    assert ami["Name"] == "lab-image {{ imagebuilder:buildDate }}"
    assert ami["AmiTags"][IMAGE_ID_TAG] == "lab-1" and ami["AmiTags"]["team"] == "lab"
    assert ami["LaunchPermissionConfiguration"] == {"UserIds": ["123456789012"]}
    assert resources["CorralImage"]["Properties"]["ImageTestsConfiguration"]["ImageTestsEnabled"] is True


def test_components_are_image_builder_documents() -> None:
    resources = build_image_template(config_of(full()), "lab-1")["Resources"]
    script = yaml.safe_load(resources["ScriptComponent0"]["Properties"]["Data"])
    assert script["schemaVersion"] == 1.0
    [build] = script["phases"]
    assert build["name"] == "build"
    assert [s["action"] for s in build["steps"]] == ["S3Download", "ExecuteBash"]
    assert build["steps"][0]["inputs"][0]["source"] == "s3://lab-bucket/install-tools.sh"
    web = yaml.safe_load(resources["ScriptComponent1"]["Properties"]["Data"])
    assert web["phases"][0]["steps"][0]["action"] == "WebDownload"
    update = resources["UpdateOSComponent"]["Properties"]["Data"]
    assert "apt-mark hold" in update and "--exclude=kernel*" in update  # DisableKernelUpdate
    corral = resources["CorralComponent"]["Properties"]["Data"]
    assert "slurmctld" in corral and "/opt/corral/bin/pip install" in corral
    policy = json.dumps(resources["InstanceRole"]["Properties"]["Policies"])
    assert "lab-bucket/*" in policy and "example.com" not in policy


def test_defaults_skip_validate_and_test_and_given_profiles_are_used() -> None:
    resources = build_image_template(config_of(MINIMAL), "min-1")["Resources"]
    assert "ValidateComponent" not in resources and "UpdateOSComponent" not in resources
    assert resources["CorralImage"]["Properties"]["ImageTestsConfiguration"]["ImageTestsEnabled"] is False
    assert "BlockDeviceMappings" not in resources["ImageRecipe"]["Properties"]
    given = MINIMAL + "  Iam:\n    InstanceProfile: arn:aws:iam::123456789012:instance-profile/builder\n"
    resources = build_image_template(config_of(given), "min-2")["Resources"]
    assert "InstanceRole" not in resources and "InstanceProfile" not in resources
    assert resources["InfrastructureConfiguration"]["Properties"]["InstanceProfileName"] == "builder"
    no_corral = MINIMAL + "DevSettings:\n  DisablePclusterComponent: true\n"
    assert "CorralComponent" not in build_image_template(config_of(no_corral), "min-3")["Resources"]


@pytest.mark.parametrize("text", [full(), MINIMAL], ids=["full", "minimal"])
def test_image_templates_pass_cfn_lint_with_every_rule(text: str) -> None:
    body, errors = decode_str(json.dumps(build_image_template(config_of(text), "lint-1")))
    assert not errors
    matches = list(Runner(ConfigMixIn(regions=["us-east-1"])).validate_template(body))
    assert matches == [], [f"{m.rule.id} {m.message}" for m in matches]


# -- status on documented response shapes ------------------------------------------------------

STACK = {
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/lab-1/5d1e0c10-0000-11ee",
    "StackName": "lab-1",
    "CreationTime": datetime(2026, 12, 4, 18, 0, tzinfo=UTC),
    "StackStatus": "CREATE_IN_PROGRESS",
    "Tags": [{"Key": IMAGE_ID_TAG, "Value": "lab-1"}, {"Key": "corral:version", "Value": "0.1.0"}],
}
AMI = {
    "ImageId": "ami-0abcdef1234567890",
    "Name": "lab-image 2026-12-04T18-40-00.000Z",
    "Architecture": "x86_64",
    "State": "available",
    "CreationDate": "2026-12-04T18:41:12.000Z",
    "Description": "Corral 0.1.0 image lab-1",
    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}],
    "Tags": [{"Key": IMAGE_ID_TAG, "Value": "lab-1"}, {"Key": "corral:version", "Value": "0.1.0"}],
}
BUILDER = {
    "arn": "arn:aws:imagebuilder:us-east-1:123456789012:image/corralimage-lab-1/0.1.0/1",
    "state": {"status": "BUILDING"},
}


@pytest.mark.parametrize(
    ("stack_status", "has_ami", "expected"),
    [
        ("CREATE_IN_PROGRESS", False, "BUILD_IN_PROGRESS"),
        ("CREATE_COMPLETE", True, "BUILD_COMPLETE"),
        ("CREATE_FAILED", False, "BUILD_FAILED"),
        ("ROLLBACK_IN_PROGRESS", False, "BUILD_FAILED"),
        ("ROLLBACK_COMPLETE", False, "BUILD_FAILED"),
        ("DELETE_IN_PROGRESS", True, "DELETE_IN_PROGRESS"),
        ("DELETE_FAILED", False, "DELETE_FAILED"),
        (None, True, "BUILD_COMPLETE"),  # the stack deleted after the build (pcluster's way)
        (None, False, "DELETE_COMPLETE"),
    ],
)
def test_image_build_status(stack_status: str | None, has_ami: bool, expected: str) -> None:
    assert build_status(stack_status, has_ami) == expected


def test_describe_and_summary_follow_the_openapi_shapes() -> None:
    building = describe_document("lab-1", "us-east-1", STACK, None, BUILDER, "https://url", "123456789012")
    assert building["imageBuildStatus"] == "BUILD_IN_PROGRESS"
    assert building["imagebuilderImageStatus"] == "BUILDING"
    assert building["imageConfiguration"] == {"url": "https://url"}
    assert building["imageBuildLogsArn"].endswith(":log-group:/aws/imagebuilder/CorralImage-lab-1")
    assert building["cloudformationStackCreationTime"] == "2026-12-04T18:00:00Z"
    assert "ec2AmiInfo" not in building
    done = describe_document(
        "lab-1", "us-east-1", {**STACK, "StackStatus": "CREATE_COMPLETE"}, AMI, None, "u", "1"
    )
    assert done["imageBuildStatus"] == "BUILD_COMPLETE"
    assert (
        done["ec2AmiInfo"]["amiId"] == "ami-0abcdef1234567890" and done["ec2AmiInfo"]["state"] == "AVAILABLE"
    )
    assert done["creationTime"] == "2026-12-04T18:41:12.000Z"
    assert summary("lab-1", "us-east-1", None, AMI) == {
        "imageId": "lab-1",
        "imageBuildStatus": "BUILD_COMPLETE",
        "region": "us-east-1",
        "version": "0.1.0",
        "ec2AmiInfo": {"amiId": "ami-0abcdef1234567890"},
    }


# -- the verbs against moto ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def parent() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp, aws_endpoint(mp):
        ec2 = boto3.client("ec2")
        yield ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def _distribute(parent: str, image_id: str) -> tuple[str, str]:
    """What Image Builder's distribution leaves: an AMI of this account carrying the image's tags
    (made here from an instance of the parent, as moto has no Image Builder); (AMI, instance)."""
    ec2 = boto3.client("ec2")
    instance = ec2.run_instances(ImageId=parent, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=instance, Name=f"{image_id} build")["ImageId"]
    ec2.create_tags(
        Resources=[ami],
        Tags=[{"Key": IMAGE_ID_TAG, "Value": image_id}, {"Key": "corral:version", "Value": "0.1.0"}],
    )
    ec2.terminate_instances(InstanceIds=[instance])
    return ami, instance


def test_build_describe_list_and_delete_an_image(parent: str, tmp_path: Path) -> None:
    provider = AwsProvider(tmp_path / "state")
    text = full(parent=parent, regions="us-east-1")
    events: list[tuple[str, str]] = []
    started = provider.build_image(text, "lab-1", region=None, on_event=lambda r, m: events.append((r, m)))
    assert started["imageBuildStatus"] == "BUILD_IN_PROGRESS" and started["cloudformationStackArn"]
    assert events
    with pytest.raises(ConflictError):
        provider.build_image(text, "lab-1", region=None, on_event=lambda r, m: None)
    s3 = boto3.client("s3")
    stored = s3.get_object(
        Bucket="corral-123456789012-us-east-1", Key="corral/images/lab-1/image-config.yaml"
    )
    assert stored["Body"].read().decode() == text
    described = provider.describe_image("lab-1", region=None)
    assert (
        described["cloudformationStackStatus"] == "CREATE_COMPLETE"
    )  # moto skips the Image Builder resources
    assert "ec2AmiInfo" not in described
    assert boto3.client("logs").describe_log_groups(logGroupNamePrefix=image_log_group("lab-1"))["logGroups"]
    ami, _ = _distribute(parent, "lab-1")
    described = provider.describe_image("lab-1", region=None)
    assert described["imageBuildStatus"] == "BUILD_COMPLETE" and described["ec2AmiInfo"]["amiId"] == ami
    assert [i["imageId"] for i in provider.list_images(image_status="AVAILABLE", region=None)] == ["lab-1"]
    assert provider.list_images(image_status="FAILED", region=None) == []
    with pytest.raises(BadRequestError):
        provider.list_images(image_status="BROKEN", region=None)
    ec2 = boto3.client("ec2")
    user = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    with pytest.raises(BadRequestError, match="used by instances"):
        provider.delete_image("lab-1", region=None)
    ec2.terminate_instances(InstanceIds=[user])
    deleted = provider.delete_image("lab-1", region=None)
    assert deleted["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert (
        ec2.describe_images(Owners=["self"], Filters=[{"Name": f"tag:{IMAGE_ID_TAG}", "Values": ["lab-1"]}])[
            "Images"
        ]
        == []
    )
    listed = s3.list_objects_v2(Bucket="corral-123456789012-us-east-1", Prefix="corral/images/lab-1/")
    assert listed.get("KeyCount", 0) == 0
    assert (
        boto3.client("logs").describe_log_groups(logGroupNamePrefix=image_log_group("lab-1"))["logGroups"]
        == []
    )
    with pytest.raises(NotFoundError, match="No image or stack associated"):
        provider.describe_image("lab-1", region=None)


def test_a_missing_parent_image_is_refused_before_anything_is_made(parent: str, tmp_path: Path) -> None:
    provider = AwsProvider(tmp_path / "state")
    with pytest.raises(BadRequestError, match="ParentImage"):
        provider.build_image(
            full(parent="ami-0000000000000dead", regions="us-east-1"),
            "bad-1",
            region=None,
            on_event=lambda r, m: None,
        )
    assert provider.list_images(image_status="PENDING", region=None) == []
    with pytest.raises(NotFoundError):
        provider.describe_image("bad-1", region=None)


def test_the_image_verbs_through_the_cli_with_provider_aws(
    parent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``corral build-image --provider aws`` and the other verbs print pcluster's JSON from the
    provider (moto: the stack without its Image Builder resources, an AMI made by the test)."""
    from click.testing import CliRunner

    from corral.cli import main as cli_main

    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "image.yaml"
    config.write_text(full(parent=parent, regions="us-east-1"))

    def corral(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli_main.cli, [*args, "--provider", "aws"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    built = corral("build-image", "-c", str(config), "-i", "cli-1")
    assert built["image"]["imageBuildStatus"] == "BUILD_IN_PROGRESS"
    events = corral("get-image-stack-events", "-i", "cli-1")["events"]
    assert events[0]["stackName"] == "cli-1" and {"eventId", "resourceStatus", "timestamp"} <= set(events[0])
    assert corral("list-image-log-streams", "-i", "cli-1")["logStreams"] == []  # no build wrote any
    ami, _ = _distribute(parent, "cli-1")
    described = corral("describe-image", "-i", "cli-1")
    assert described["imageBuildStatus"] == "BUILD_COMPLETE" and described["ec2AmiInfo"]["amiId"] == ami
    listed = corral("list-images", "--image-status", "AVAILABLE")["images"]
    assert [i["imageId"] for i in listed] == ["cli-1"]
    deleted = corral("delete-image", "-i", "cli-1")
    assert deleted["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert corral("list-images", "--image-status", "AVAILABLE")["images"] == []


def test_the_image_verbs_honour_region(parent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``-r``/``--region`` of every image verb picks the client's region, over AWS_REGION (us-east-1
    here): the image is built, found, listed, read and deleted in eu-west-1 only."""
    from click.testing import CliRunner

    from corral.cli import main as cli_main

    monkeypatch.setenv("CORRAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # restored after -r exports its region
    region = "eu-west-1"
    ec2 = boto3.client("ec2", region_name=region)
    parent_eu = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    config = tmp_path / "image.yaml"
    config.write_text(full(parent=parent_eu, regions=region))

    def corral(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli_main.cli, [*args, "--provider", "aws"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    built = corral("build-image", "-c", str(config), "-i", "eu-1", "-r", region)
    assert built["image"]["region"] == region and f":{region}:" in built["image"]["cloudformationStackArn"]
    assert boto3.client("cloudformation", region_name=region).describe_stacks(StackName="eu-1")["Stacks"]
    with pytest.raises(NotFoundError):  # not in AWS_REGION's us-east-1
        corral("describe-image", "-i", "eu-1")
    instance = ec2.run_instances(ImageId=parent_eu, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=instance, Name="eu-1 build")["ImageId"]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": IMAGE_ID_TAG, "Value": "eu-1"}])
    ec2.terminate_instances(InstanceIds=[instance])
    described = corral("describe-image", "-i", "eu-1", "--region", region)
    assert (described["region"], described["ec2AmiInfo"]["amiId"]) == (region, ami)
    assert [
        i["imageId"] for i in corral("list-images", "--image-status", "AVAILABLE", "-r", region)["images"]
    ] == ["eu-1"]
    assert corral("list-images", "--image-status", "AVAILABLE")["images"] == []
    events = corral("get-image-stack-events", "-i", "eu-1", "-r", region)["events"]
    assert events and events[0]["stackName"] == "eu-1"
    assert corral("list-image-log-streams", "-i", "eu-1", "-r", region)["logStreams"] == []
    out = tmp_path / "logs.tar.gz"
    assert corral("export-image-logs", "-i", "eu-1", "-r", region, "--output-file", str(out))
    assert out.exists()
    deleted = corral("delete-image", "-i", "eu-1", "-r", region)
    assert deleted["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert (
        ec2.describe_images(Owners=["self"], Filters=[{"Name": f"tag:{IMAGE_ID_TAG}", "Values": ["eu-1"]}])[
            "Images"
        ]
        == []
    )
