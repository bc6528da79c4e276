# The worker (`python -m etl.entrypoints.worker`, the registry's worker command, as the image's
# CMD): a Cloud Run service with instance-based billing, so it keeps pulling between requests, and
# autoscaling on CPU between the bounds. It answers /healthz on $PORT while its pull loop lives.
# Nothing calls it: internal ingress, no default URL, and no invoker binding.
resource "google_cloud_run_v2_service" "worker" {
  name                 = "etl-worker-${var.stage}"
  location             = var.region
  ingress              = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  default_uri_disabled = true
  deletion_protection  = var.deletion_protection

  template {
    service_account = google_service_account.runtime["worker"].email
    # Cloud Run gives SIGTERM then 10 s; the worker finishes or nacks its batch within them.
    timeout = "60s"

    scaling {
      min_instance_count = var.worker_min_instances
      max_instance_count = var.worker_max_instances
    }

    containers {
      image = var.worker_image

      resources {
        limits = {
          cpu    = var.worker_cpu
          memory = var.worker_memory
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.runtime_env
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
}
