# Offline checks of the stage module against the registry's data, with a mock Google provider (no
# credentials, no API call): `nox -s terraform` runs them where ETL_TF_PROVIDER_DIR holds a
# provider binary. Plans check what is known before apply (names, counts, settings); the `apply`
# runs, on the mock provider only, also check values only known after apply (the topic ids the
# subscriptions point at, the URLs they push to).
#
# `terraform test` runs in the default workspace, so the workspace check fails in every run,
# as it should.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  # The provider derives these from the account id; a mock's random strings would fail the IAM
  # resources' own validation. The push invoker's are overridden below to tell it apart.
  mock_resource "google_service_account" {
    defaults = {
      email  = "etl-runtime@etl-offline-check.iam.gserviceaccount.com"
      member = "serviceAccount:etl-runtime@etl-offline-check.iam.gserviceaccount.com"
      name   = "projects/etl-offline-check/serviceAccounts/etl-runtime@etl-offline-check.iam.gserviceaccount.com"
    }
  }
}

override_resource {
  target = google_service_account.push
  values = {
    email  = "etl-push-dev@etl-offline-check.iam.gserviceaccount.com"
    member = "serviceAccount:etl-push-dev@etl-offline-check.iam.gserviceaccount.com"
    name   = "projects/etl-offline-check/serviceAccounts/etl-push-dev@etl-offline-check.iam.gserviceaccount.com"
  }
}

variables {
  project      = "etl-offline-check"
  worker_image = "us-central1-docker.pkg.dev/etl-offline-check/etl/worker:check"
}

run "dev_plan" {
  command         = plan
  expect_failures = [check.workspace_is_the_stage]
  variables {
    stage               = "dev"
    deletion_protection = false
  }

  assert {
    condition     = toset(keys(google_cloudfunctions2_function.this)) == toset(["pubsub_receiver", "write_event", "calculate_occupancy", "hourly_counts", "daily_peak", "simulate_acceso_data"])
    error_message = "dev's functions are not the registry's five and the simulator"
  }
  assert {
    condition     = google_cloudfunctions2_function.this["simulate_acceso_data"].name == "simulate-acceso-data-dev" && google_cloudfunctions2_function.this["simulate_acceso_data"].service_config[0].ingress_settings == "ALLOW_ALL"
    error_message = "the simulator is simulate-acceso-data-dev, reachable by an authenticated developer"
  }
  assert {
    condition     = toset(keys(google_pubsub_subscription.this)) == toset(["pubsub-receiver-dev", "write-event-dev", "calculate-occupancy-dev", "hourly-counts-dev", "daily-peak-dev", "worker-dev", "deadletter-reader-dev"])
    error_message = "dev's subscriptions are not the registry's seven"
  }
  assert {
    condition     = toset(keys(google_pubsub_topic.this)) == toset(["acceso-events-dev", "acceso-written-dev", "acceso-deadletter-dev"])
    error_message = "dev's topics are not events, written and dead letter"
  }
  assert {
    condition     = alltrue([for name, s in google_pubsub_subscription.this : s.ack_deadline_seconds == 60 && (name == "deadletter-reader-dev" ? length(s.retry_policy) == 0 : s.retry_policy[0].minimum_backoff == "0.1s" && s.retry_policy[0].maximum_backoff == "10s")])
    error_message = "a subscription's ack deadline or backoff is not the registry's"
  }
  assert {
    condition     = alltrue([for name, s in google_pubsub_subscription.this : name == "deadletter-reader-dev" ? length(s.dead_letter_policy) == 0 : s.dead_letter_policy[0].max_delivery_attempts == 20])
    error_message = "every subscription but the dead-letter reader's dead-letters after 20 attempts"
  }
  assert {
    condition     = alltrue([for name, s in google_pubsub_subscription.this : length(s.push_config) == (contains(["worker-dev", "deadletter-reader-dev"], name) ? 0 : 1)])
    error_message = "functions' subscriptions push; the worker's and the reader's are pulled"
  }
  assert {
    condition     = alltrue([for name, f in google_cloudfunctions2_function.this : f.build_config[0].entry_point == name && f.build_config[0].runtime == "python312" && length(f.event_trigger) == 0])
    error_message = "a function's entry point is not its registry name, or it has an Eventarc trigger"
  }
  assert {
    condition     = alltrue([for name, f in google_cloudfunctions2_function.this : f.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY" && f.service_config[0].timeout_seconds == 60 if name != "simulate_acceso_data"])
    error_message = "Pub/Sub-triggered functions take internal traffic only, and finish within the ack deadline"
  }
  assert {
    condition     = alltrue([for name, f in google_cloudfunctions2_function.this : f.service_config[0].max_instance_request_concurrency == 64 && f.service_config[0].available_cpu == "1" && f.service_config[0].environment_variables["THREADS"] == "64" if name != "simulate_acceso_data"])
    error_message = "Pub/Sub-triggered functions serve 8 pushes at once, on a whole vCPU, with as many threads"
  }
  assert {
    condition     = google_bigtable_table.events.name == "incomingraw_dev" && google_bigtable_table.events.deletion_protection == "UNPROTECTED"
    error_message = "dev's table is not incomingraw_dev, unprotected"
  }
  assert {
    condition     = toset(keys(google_bigtable_gc_policy.families)) == toset(["event", "realTimeStatus"]) && alltrue([for p in google_bigtable_gc_policy.families : p.max_version[0].number == 1])
    error_message = "the column families' GC rules are not the registry's (one version)"
  }
  assert {
    condition     = google_cloud_run_v2_service.worker.template[0].containers[0].image == var.worker_image
    error_message = "the worker does not run the image given"
  }
  assert {
    condition     = google_cloud_run_v2_service.worker.template[0].scaling[0].min_instance_count == 1 && google_cloud_run_v2_service.worker.template[0].scaling[0].max_instance_count == 3
    error_message = "the worker's default scaling is not 1-3 instances"
  }
  assert {
    condition     = google_cloud_run_v2_service.worker.template[0].containers[0].resources[0].cpu_idle == false && google_cloud_run_v2_service.worker.deletion_protection == false
    error_message = "the worker must keep its CPU between requests; dev's is not protected"
  }
  assert {
    condition     = length(google_service_account.runtime) == 7 && length(google_cloud_run_v2_service_iam_member.push) == 5 && length(google_cloud_run_v2_service_iam_member.simulator) == 0
    error_message = "dev: one account per function, simulator and worker; the push invoker on each Pub/Sub function; no simulator invoker unless given"
  }
  assert {
    condition     = toset(keys(google_pubsub_topic_iam_member.publish)) == toset(["pubsub_receiver/acceso-deadletter-dev", "write_event/acceso-written-dev", "write_event/acceso-deadletter-dev", "calculate_occupancy/acceso-deadletter-dev", "hourly_counts/acceso-deadletter-dev", "daily_peak/acceso-deadletter-dev", "simulate_acceso_data/acceso-events-dev", "worker/acceso-deadletter-dev"])
    error_message = "each identity publishes only to the topics of its publishes_to"
  }
}

run "prod_plan" {
  command         = plan
  expect_failures = [check.workspace_is_the_stage]
  variables {
    stage                = "prod"
    deletion_protection  = true
    worker_max_instances = 10
  }

  assert {
    condition     = toset(keys(google_cloudfunctions2_function.this)) == toset(["pubsub_receiver", "write_event", "calculate_occupancy", "hourly_counts", "daily_peak"])
    error_message = "prod must have the five Pub/Sub-triggered functions and no simulator"
  }
  assert {
    condition     = length(google_service_account.runtime) == 6 && !contains(keys(google_service_account.runtime), "simulate_acceso_data")
    error_message = "prod has no simulator identity"
  }
  assert {
    condition     = google_bigtable_table.events.name == "incomingraw_prod" && google_bigtable_table.events.deletion_protection == "PROTECTED"
    error_message = "prod's table must be incomingraw_prod, protected"
  }
  assert {
    condition     = google_cloud_run_v2_service.worker.deletion_protection && google_cloud_run_v2_service.worker.template[0].scaling[0].max_instance_count == 10
    error_message = "prod's worker is protected and scales to 10"
  }
  assert {
    condition     = google_storage_bucket.source.force_destroy == false && google_storage_bucket.source.public_access_prevention == "enforced"
    error_message = "prod's source bucket is kept on destroy and never public"
  }
  assert {
    condition     = toset(keys(google_pubsub_subscription.this)) == toset(["pubsub-receiver-prod", "write-event-prod", "calculate-occupancy-prod", "hourly-counts-prod", "daily-peak-prod", "worker-prod", "deadletter-reader-prod"])
    error_message = "prod's subscriptions are not the registry's seven"
  }
}

run "dev_wiring" {
  command         = apply
  expect_failures = [check.workspace_is_the_stage]
  variables {
    stage               = "dev"
    deletion_protection = false
    simulator_invokers  = ["user:developer@example.com"]
  }

  assert {
    condition = alltrue([
      for sub, topic in {
        "pubsub-receiver-dev"     = "acceso-events-dev"
        "write-event-dev"         = "acceso-events-dev"
        "calculate-occupancy-dev" = "acceso-written-dev"
        "hourly-counts-dev"       = "acceso-written-dev"
        "daily-peak-dev"          = "acceso-written-dev"
        "worker-dev"              = "acceso-events-dev"
        "deadletter-reader-dev"   = "acceso-deadletter-dev"
      } : google_pubsub_subscription.this[sub].topic == google_pubsub_topic.this[topic].id
    ])
    error_message = "a subscription is not on its registry trigger topic"
  }
  assert {
    condition     = alltrue([for name, s in google_pubsub_subscription.this : s.dead_letter_policy[0].dead_letter_topic == google_pubsub_topic.this["acceso-deadletter-dev"].id if name != "deadletter-reader-dev"])
    error_message = "dead letters do not go to acceso-deadletter-dev"
  }
  assert {
    condition = alltrue([
      for name, f in google_cloudfunctions2_function.this : (
        google_pubsub_subscription.this[replace("${name}-dev", "_", "-")].push_config[0].push_endpoint == f.service_config[0].uri &&
      google_pubsub_subscription.this[replace("${name}-dev", "_", "-")].push_config[0].oidc_token[0].service_account_email == google_service_account.push.email)
      if name != "simulate_acceso_data"
    ])
    error_message = "a function's subscription does not push to that function as the push invoker"
  }
  assert {
    condition     = keys(google_cloud_run_v2_service_iam_member.simulator) == ["simulate_acceso_data/user:developer@example.com"]
    error_message = "the simulator is invokable by exactly the principals given"
  }
}
