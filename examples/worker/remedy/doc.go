// Package remedy holds the example workloads of batchwire's two remediation
// examples: OrderWorkflow, run by two Worker Deployment versions of which one is
// rolled back as broken, and OutageWorkflow, whose activity fails while its
// tenant's downstream service is down. Tests register it on their own workers.
package remedy
