# One stage of the pipeline, from the registry (etl/pipeline.py) as generated into
# stages/<stage>.pipeline.json by `nox -s generate`. Nothing here names a function,
# a subscription or a topic: adding one to the registry adds it here.

locals {
  pipeline = jsondecode(file("${path.module}/stages/${var.stage}.pipeline.json"))

  # Pub/Sub-triggered functions by entry point; HTTP functions only where the registry deploys them.
  functions      = { for f in local.pipeline.functions : f.name => f }
  http_functions = { for f in local.pipeline.http_functions : f.name => f if contains(f.stages, var.stage) }

  # What each deployed function differs in: a Pub/Sub push must finish within its ack deadline.
  deployed_functions = merge(
    { for name, f in local.functions : name => {
      description     = "${name} (${f.shape}), pushed from ${f.subscription}"
      timeout_seconds = f.ack_deadline_seconds
      max_instances   = var.function_max_instances
      concurrency     = f.concurrency
      ingress         = "ALLOW_INTERNAL_ONLY"
    } },
    { for name, f in local.http_functions : name => {
      description     = "${name} (HTTP, authenticated callers only)"
      timeout_seconds = 60
      max_instances   = 1
      concurrency     = 1
      ingress         = "ALLOW_ALL"
    } },
  )

  # Every subscription of the registry by name: each function's (pushed to that function, so its
  # dead-letter policy and backoff apply) and the pull consumers' (the worker, the dead-letter reader).
  subscriptions = merge(
    { for f in local.pipeline.functions : f.subscription => {
      topic                   = f.trigger_topic
      push_to                 = f.name
      ack_deadline_seconds    = f.ack_deadline_seconds
      minimum_backoff_seconds = f.minimum_backoff_seconds
      maximum_backoff_seconds = f.maximum_backoff_seconds
      dead_letter_topic       = f.dead_letter_topic
      max_delivery_attempts   = f.max_delivery_attempts
    } },
    { for c in [local.pipeline.worker, local.pipeline.dead_letter_reader] : c.subscription => {
      topic                   = c.topic
      push_to                 = null
      ack_deadline_seconds    = c.ack_deadline_seconds
      minimum_backoff_seconds = try(c.minimum_backoff_seconds, null)
      maximum_backoff_seconds = try(c.maximum_backoff_seconds, null)
      dead_letter_topic       = try(c.dead_letter_topic, null)
      max_delivery_attempts   = try(c.max_delivery_attempts, null)
    } },
  )

  # One service account per runtime identity, with the topics it publishes to and whether it
  # reads and writes the table.
  identities = merge(
    { for name, f in local.functions : name => { publishes_to = f.publishes_to, table = true } },
    { for name, f in local.http_functions : name => { publishes_to = f.publishes_to, table = false } },
    { worker = { publishes_to = local.pipeline.worker.publishes_to, table = true } },
  )

  # What every function and the worker read with etl.config.from_env.
  runtime_env = {
    GOOGLE_CLOUD_PROJECT = var.project
    ETL_STAGE            = var.stage
    BIGTABLE_INSTANCE    = local.pipeline.bigtable.instance
  }

  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

data "google_project" "this" {
  project_id = var.project
}

# Stages share one project, so each keeps its own state: a Terraform workspace per stage.
check "workspace_is_the_stage" {
  assert {
    condition     = terraform.workspace == var.stage
    error_message = "Workspace ${terraform.workspace} is not stage ${var.stage}: run `terraform workspace select -or-create ${var.stage}` first, or this plan replaces another stage's resources."
  }
}
