variable "project" {
  description = "The Google Cloud project every resource of the stage is created in."
  type        = string
}

variable "stage" {
  description = "dev, test or prod: selects stages/<stage>.pipeline.json, generated from etl/pipeline.py."
  type        = string
  validation {
    condition     = contains(["dev", "test", "prod"], var.stage)
    error_message = "stage must be one of dev, test, prod."
  }
}

variable "region" {
  description = "Region of the functions, the worker and the source bucket."
  type        = string
  default     = "us-central1"
}

variable "deletion_protection" {
  description = "Protect the table (Bigtable refuses to delete it) and the worker's service (Terraform refuses to destroy it). On in prod."
  type        = bool
}

variable "function_zip" {
  description = "The functions' source zip made by `nox -s bundle` from the deployed file set."
  type        = string
  default     = "../../../dist/functions.zip"
}

variable "python_runtime" {
  description = "Cloud Run functions runtime of every function."
  type        = string
  default     = "python312"
}

variable "function_memory" {
  description = "Memory of each function instance."
  type        = string
  default     = "256M"
}

variable "function_max_instances" {
  description = "Upper bound of instances per function (each serves as many Pub/Sub pushes at once as its concurrency in etl/pipeline.py)."
  type        = number
  default     = 20
}

variable "worker_image" {
  description = "The worker's image, built from deploy/worker/Dockerfile (`nox -s bundle`, then Cloud Build)."
  type        = string
}

variable "worker_min_instances" {
  description = "Worker instances always running (at least 1: the worker pulls, nothing wakes it)."
  type        = number
  default     = 1
  validation {
    condition     = var.worker_min_instances >= 1
    error_message = "worker_min_instances must be at least 1: a pull worker scaled to zero never wakes."
  }
}

variable "worker_max_instances" {
  description = "Upper bound of worker instances (Cloud Run adds them on CPU utilisation)."
  type        = number
  default     = 3
  validation {
    condition     = var.worker_max_instances >= var.worker_min_instances
    error_message = "worker_max_instances must not be below worker_min_instances."
  }
}

variable "worker_cpu" {
  description = "vCPUs of each worker instance (Cloud Run accepts 1, 2, 4, 6 or 8)."
  type        = string
  default     = "1"
}

variable "worker_memory" {
  description = "Memory of each worker instance."
  type        = string
  default     = "512Mi"
}

variable "simulator_invokers" {
  description = "Principals allowed to call the simulator (dev and test only), e.g. [\"user:me@example.com\"]. Never public."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.simulator_invokers : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "The simulator is never public: allUsers and allAuthenticatedUsers are refused."
  }
}
