# Stage test. With: -var project=P -var worker_image=IMAGE (see docs/deployment/terraform.md).
stage               = "test"
deletion_protection = false
