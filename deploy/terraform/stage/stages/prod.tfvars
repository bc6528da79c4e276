# Stage prod. With: -var project=P -var worker_image=IMAGE (see docs/deployment/terraform.md).
stage                = "prod"
deletion_protection  = true
function_memory      = "512M"
worker_max_instances = 10
