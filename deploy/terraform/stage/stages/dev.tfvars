# Stage dev. With: -var project=P -var worker_image=IMAGE (see docs/deployment/terraform.md).
stage               = "dev"
deletion_protection = false
