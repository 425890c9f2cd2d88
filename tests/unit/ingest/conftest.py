from tests.support.s3 import s3_options, s3_root  # noqa: F401 (fixtures of these tests)
