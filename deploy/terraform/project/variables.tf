variable "project" {
  description = "The Google Cloud project of every stage."
  type        = string
}

variable "region" {
  description = "Region of the worker images' repository (the stages' functions and worker use the same)."
  type        = string
  default     = "us-central1"
}

variable "bigtable_instance" {
  description = "The instance every stage's table is in (the runtime's BIGTABLE_INSTANCE default)."
  type        = string
  default     = "iotincoming"
}

variable "bigtable_zone" {
  description = "Zone of the instance's only cluster."
  type        = string
  default     = "us-central1-b"
}

variable "bigtable_nodes" {
  description = "Nodes of that cluster (about 14k writes/s each on SSD: docs/capacity)."
  type        = number
  default     = 1
}
