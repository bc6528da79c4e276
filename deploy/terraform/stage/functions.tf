# The functions' source: the zip `nox -s bundle` makes from the deployed file set (main.py,
# requirements.txt, etl/, etl_core/). Named by its MD5, so a code change is a new object and a
# new build of every function.
resource "google_storage_bucket" "source" {
  name                        = "${var.project}-etl-${var.stage}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
}

resource "google_storage_bucket_object" "functions" {
  name   = "functions-${filemd5(var.function_zip)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.function_zip
}

# Pub/Sub-triggered functions, as HTTP functions that their subscriptions push to (see
# google_pubsub_subscription.this): an Eventarc trigger would bring its own subscription, without
# the registry's dead-letter policy and backoff.
resource "google_cloudfunctions2_function" "pubsub" {
  for_each    = local.functions
  name        = "${replace(each.key, "_", "-")}-${var.stage}"
  location    = var.region
  description = "${each.key} (${each.value.shape}), pushed from ${each.value.subscription}"

  build_config {
    runtime     = var.python_runtime
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions.name
      }
    }
  }

  service_config {
    available_memory                 = var.function_memory
    timeout_seconds                  = each.value.ack_deadline_seconds
    max_instance_count               = var.function_max_instances
    max_instance_request_concurrency = 1
    environment_variables            = local.runtime_env
    # Pub/Sub push from the same project is internal traffic; nothing else reaches it.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.runtime[each.key].email
  }
}

# HTTP functions (the simulator): only in the stages the registry lists, callable only by
# var.simulator_invokers with an identity token.
resource "google_cloudfunctions2_function" "http" {
  for_each    = local.http_functions
  name        = "${replace(each.key, "_", "-")}-${var.stage}"
  location    = var.region
  description = "${each.key} (HTTP, authenticated callers only)"

  build_config {
    runtime     = var.python_runtime
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions.name
      }
    }
  }

  service_config {
    available_memory               = var.function_memory
    timeout_seconds                = 60
    max_instance_count             = 1
    environment_variables          = local.runtime_env
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.runtime[each.key].email
  }
}
