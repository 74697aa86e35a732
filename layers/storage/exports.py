"""Export files in the code bucket under `exports/` (an infra lifecycle rule expires them
after a day): written as an S3 multipart upload, part by part as the rows come, so an
export of any size holds one part in memory, never the whole file; read back through a
presigned GET that names the file's download name."""

from __future__ import annotations

from layers.storage.images import _S3

PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (but the last)
URL_EXPIRES_S = 300


class PartWriter:
    """One multipart upload. `write` buffers; a full part goes up; `close` sends the rest
    (at least one part, even empty) and completes; `abort` drops every part sent."""

    def __init__(self, client, bucket: str, key: str, content_type: str, part_bytes: int = PART_BYTES):
        self.client, self.bucket, self.key = client, bucket, key
        self.part_bytes = part_bytes
        self.upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
        self.parts: list[dict] = []
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= self.part_bytes:
            self._send(bytes(self.buf[:self.part_bytes]))
            del self.buf[:self.part_bytes]

    def _send(self, body: bytes) -> None:
        n = len(self.parts) + 1
        answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         PartNumber=n, Body=body)
        self.parts.append({"PartNumber": n, "ETag": answer["ETag"]})

    def close(self) -> None:
        if self.buf or not self.parts:
            self._send(bytes(self.buf))
            self.buf.clear()
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                              MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class S3Exports(_S3):
    """layers.domain.exports.Exports on the code bucket."""

    def __init__(self, bucket: str | None, region: str, part_bytes: int = PART_BYTES):
        super().__init__(bucket, region)
        self.part_bytes = part_bytes

    def open(self, key: str, content_type: str) -> PartWriter:
        if not key.startswith("exports/"):
            raise ValueError("exports live under exports/ (their lifecycle rule)")
        return PartWriter(self.client, self.bucket, key, content_type, self.part_bytes)

    def url(self, key: str, filename: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=URL_EXPIRES_S,
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'})
