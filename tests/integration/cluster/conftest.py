from tests.support.ray_head import ray_head  # noqa: F401 (a fixture of these tests)
from tests.support.s3 import s3_options, s3_root  # noqa: F401 (fixtures of these tests)
