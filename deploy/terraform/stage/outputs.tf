output "topics" {
  description = "Topic names by role (events, written, dead_letter)."
  value       = { for role, name in local.pipeline.topics : role => google_pubsub_topic.this[name].name }
}

output "subscriptions" {
  description = "Every subscription of the stage."
  value       = sort([for s in google_pubsub_subscription.this : s.name])
}

output "functions" {
  description = "Deployed function names by entry point."
  value       = { for name in keys(local.functions) : name => google_cloudfunctions2_function.this[name].name }
}

output "worker_service" {
  description = "The worker's Cloud Run service."
  value       = google_cloud_run_v2_service.worker.name
}

output "simulator_urls" {
  description = "HTTP functions' URLs (dev and test; empty in prod). Call with an identity token."
  value       = { for name in keys(local.http_functions) : name => google_cloudfunctions2_function.this[name].service_config[0].uri }
}

output "table" {
  description = "The stage's Bigtable table."
  value       = google_bigtable_table.events.name
}
