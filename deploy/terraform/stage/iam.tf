# One service account per identity, holding only what the registry says it needs: publisher on
# the topics in its publishes_to, data access to the table, the worker's own subscription.
resource "google_service_account" "runtime" {
  for_each     = local.identities
  account_id   = "etl-${replace(each.key, "_", "-")}-${var.stage}"
  display_name = "etl ${each.key} (${var.stage})"
}

resource "google_pubsub_topic_iam_member" "publish" {
  for_each = merge([
    for identity, spec in local.identities : {
      for topic in spec.publishes_to : "${identity}/${topic}" => { identity = identity, topic = topic }
    }
  ]...)
  topic  = google_pubsub_topic.this[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.runtime[each.value.identity].member
}

resource "google_bigtable_table_iam_member" "data" {
  for_each      = { for identity, spec in local.identities : identity => spec if spec.table }
  instance_name = google_bigtable_table.events.instance_name
  table         = google_bigtable_table.events.name
  role          = "roles/bigtable.user"
  member        = google_service_account.runtime[each.key].member
}

resource "google_pubsub_subscription_iam_member" "worker" {
  subscription = google_pubsub_subscription.this[local.pipeline.worker.subscription].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.runtime["worker"].member
}

# The identity Pub/Sub pushes as: it may invoke the Pub/Sub-triggered functions, nothing else.
resource "google_service_account" "push" {
  account_id   = "etl-push-${var.stage}"
  display_name = "etl Pub/Sub push invoker (${var.stage})"
}

resource "google_cloud_run_v2_service_iam_member" "push" {
  for_each = local.functions
  location = google_cloudfunctions2_function.this[each.key].location
  name     = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

# Pub/Sub's service agent signs the push invoker's OIDC tokens (needed in projects created before
# April 2021, harmless after).
resource "google_service_account_iam_member" "push_token" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_v2_service_iam_member" "simulator" {
  for_each = {
    for pair in setproduct(keys(local.http_functions), var.simulator_invokers) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] }
  }
  location = google_cloudfunctions2_function.this[each.value.function].location
  name     = google_cloudfunctions2_function.this[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
