resource "google_pubsub_topic" "this" {
  for_each = toset(values(local.pipeline.topics))
  name     = each.key
}

resource "google_pubsub_subscription" "this" {
  for_each             = local.subscriptions
  name                 = each.key
  topic                = google_pubsub_topic.this[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds

  # Without one (the dead-letter reader's), Pub/Sub redelivers as soon as it can.
  dynamic "retry_policy" {
    for_each = each.value.minimum_backoff_seconds == null ? [] : [each.value]
    content {
      minimum_backoff = "${retry_policy.value.minimum_backoff_seconds}s"
      maximum_backoff = "${retry_policy.value.maximum_backoff_seconds}s"
    }
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letter_topic == null ? [] : [each.value]
    content {
      dead_letter_topic     = google_pubsub_topic.this[dead_letter_policy.value.dead_letter_topic].id
      max_delivery_attempts = dead_letter_policy.value.max_delivery_attempts
    }
  }

  # A function's subscription pushes to it, authenticated as the push invoker (Pub/Sub signs an
  # OIDC token for the function's URL); the others are pulled.
  dynamic "push_config" {
    for_each = each.value.push_to == null ? [] : [google_cloudfunctions2_function.this[each.value.push_to].service_config[0].uri]
    content {
      push_endpoint = push_config.value
      oidc_token {
        service_account_email = google_service_account.push.email
        audience              = push_config.value
      }
    }
  }

  expiration_policy {
    ttl = "" # never expires, even while nothing consumes it
  }
}

# Dead lettering is done by Pub/Sub's service agent: it publishes to the dead-letter topic and
# acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_agent" {
  for_each = toset([for s in local.subscriptions : s.dead_letter_topic if s.dead_letter_topic != null])
  topic    = google_pubsub_topic.this[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_agent" {
  for_each     = { for name, s in local.subscriptions : name => s if s.dead_letter_topic != null }
  subscription = google_pubsub_subscription.this[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
