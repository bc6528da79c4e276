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

# Every function of the stage. The Pub/Sub-triggered ones are HTTP functions that their
# subscriptions push to (see google_pubsub_subscription.this): an Eventarc trigger would bring its
# own subscription, without the registry's dead-letter policy and backoff. Pub/Sub push from the
# same project is internal traffic, so nothing else reaches them. HTTP functions (the simulator)
# exist only in the stages the registry lists, callable only by var.simulator_invokers.
resource "google_cloudfunctions2_function" "this" {
  for_each    = local.deployed_functions
  name        = "${replace(each.key, "_", "-")}-${var.stage}"
  location    = var.region
  description = each.value.description

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
    available_memory = var.function_memory
    # Concurrent pushes share the ledger's commit groups (etl/pipeline.py `concurrency`). Above 1
    # a function needs a whole vCPU, and functions-framework as many threads (Google's advice).
    available_cpu                    = each.value.concurrency > 1 ? "1" : null
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    environment_variables            = merge(local.runtime_env, { THREADS = tostring(each.value.concurrency) })
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime[each.key].email
  }
}
