"""Drives the S3 gateway with boto3 (default checksum settings) and prints one JSON object of findings.

Run by boto3.test.ts with S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY in the environment.
"""
import hashlib
import io
import json
import os
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client(
    "s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["S3_ACCESS_KEY"], aws_secret_access_key=os.environ["S3_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
found = {}


def error_code(call):
    try:
        call()
    except ClientError as error:
        return [error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]]
    return None


s3.create_bucket(Bucket="boto")
found["create_again"] = error_code(lambda: s3.create_bucket(Bucket="boto"))
put = s3.put_object(Bucket="boto", Key="dir/hello.txt", Body=b"hello from boto3", ContentType="text/plain", Metadata={"who": "boto"})
got = s3.get_object(Bucket="boto", Key="dir/hello.txt")
found["get"] = [got["Body"].read().decode(), got["ContentType"], got["Metadata"], got["ETag"] == put["ETag"]]
found["range"] = s3.get_object(Bucket="boto", Key="dir/hello.txt", Range="bytes=6-9")["Body"].read().decode()
found["head"] = s3.head_object(Bucket="boto", Key="dir/hello.txt")["ContentLength"]
found["missing_key"] = error_code(lambda: s3.get_object(Bucket="boto", Key="missing"))
found["missing_bucket"] = error_code(lambda: s3.list_objects_v2(Bucket="missing-bucket"))
found["if_none_match"] = error_code(lambda: s3.put_object(Bucket="boto", Key="dir/hello.txt", Body=b"x", IfNoneMatch="*"))
found["if_match_get"] = error_code(lambda: s3.get_object(Bucket="boto", Key="dir/hello.txt", IfMatch='"0000"'))
# CRC32C needs the optional awscrt package in boto3; the JavaScript SDK tests cover it.
for algorithm in ["CRC32", "SHA1", "SHA256"]:
    s3.put_object(Bucket="boto", Key=f"sum/{algorithm}", Body=algorithm.encode() * 1000, ChecksumAlgorithm=algorithm)
found["checksums"] = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="boto", Prefix="sum/")["Contents"])
s3.copy_object(Bucket="boto", Key="copy.txt", CopySource={"Bucket": "boto", "Key": "dir/hello.txt"})
found["copy"] = s3.get_object(Bucket="boto", Key="copy.txt")["Body"].read().decode()
listed = s3.list_objects_v2(Bucket="boto", Delimiter="/")
found["list"] = [[item["Key"] for item in listed.get("Contents", [])], [item["Prefix"] for item in listed.get("CommonPrefixes", [])]]
pages = s3.get_paginator("list_objects_v2").paginate(Bucket="boto", PaginationConfig={"PageSize": 2})
found["paged"] = [item["Key"] for page in pages for item in page.get("Contents", [])]
found["list_v1"] = [item["Key"] for item in s3.list_objects(Bucket="boto", Prefix="sum/", MaxKeys=10)["Contents"]]
data = bytes(range(256)) * (12 * 1024 * 1024 // 256 + 7)
s3.upload_fileobj(io.BytesIO(data), "boto", "multipart.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=2))
down = io.BytesIO()
s3.download_fileobj("boto", "multipart.bin", down, Config=TransferConfig(multipart_threshold=64 * 1024 * 1024))
found["multipart"] = [hashlib.sha256(down.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest(), s3.head_object(Bucket="boto", Key="multipart.bin")["ETag"].endswith('-3"')]
upload = s3.create_multipart_upload(Bucket="boto", Key="aborted")
s3.upload_part(Bucket="boto", Key="aborted", UploadId=upload["UploadId"], PartNumber=1, Body=b"part")
found["uploads"] = [item["Key"] for item in s3.list_multipart_uploads(Bucket="boto").get("Uploads", [])]
found["parts"] = [item["PartNumber"] for item in s3.list_parts(Bucket="boto", Key="aborted", UploadId=upload["UploadId"])["Parts"]]
s3.abort_multipart_upload(Bucket="boto", Key="aborted", UploadId=upload["UploadId"])
found["aborted"] = error_code(lambda: s3.list_parts(Bucket="boto", Key="aborted", UploadId=upload["UploadId"]))
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/hello.txt"}, ExpiresIn=300)
found["presigned"] = urllib.request.urlopen(url).read().decode()
try:
    urllib.request.urlopen(url.replace("hello.txt", "hello.txt2"))
    found["presigned_tampered"] = 200
except urllib.error.HTTPError as error:
    found["presigned_tampered"] = error.code
v4 = boto3.client(
    "s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["S3_ACCESS_KEY"], aws_secret_access_key=os.environ["S3_SECRET_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
found["presigned_v4"] = urllib.request.urlopen(v4.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/hello.txt"}, ExpiresIn=300)).read().decode()
deleted = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "dir/hello.txt"}]})
found["deleted"] = sorted(item["Key"] for item in deleted["Deleted"])
found["not_empty"] = error_code(lambda: s3.delete_bucket(Bucket="boto"))
for key in [item["Key"] for item in s3.list_objects_v2(Bucket="boto")["Contents"]]:
    s3.delete_object(Bucket="boto", Key=key)
s3.delete_bucket(Bucket="boto")
found["listed_after_delete"] = "boto" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
print(json.dumps(found))
