package azfunc_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/azfunc"
)

// appSettings are the settings infra/azure/azuredeploy.json gives the
// function app, with the Key Vault references resolved.
func appSettings() map[string]string {
	return map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": "37011",
		"CLOUDTRIM_LAKE_URL":           "azblob://lake?storage_account=ctlake7x",
		"CLOUDTRIM_LAKE_CONTAINER":     "lake",
		"CLOUDTRIM_QUEUE_URL":          "https://ctlake7x.queue.core.windows.net/cloudtrim-actions",
		"CLOUDTRIM_QUEUE_NAME":         "cloudtrim-actions",
		"CLOUDTRIM_EXPORTS_CONTAINER":  "cost-exports",
		"CLOUDTRIM_SUBSCRIPTIONS":      "6F2C1E0A-1B2C-4D5E-8F90-1A2B3C4D5E6F, 00000000-1111-2222-3333-444444444444",
		"CLOUDTRIM_APPLY":              "false",
		"CLOUDTRIM_OPTIN_TAG":          "cloudtrim-optin",
		"CLOUDTRIM_WEBHOOK_SECRET":     "azure-approval-secret-0123456789",
		"AZURE_CLIENT_ID":              "5b7d1a2e-9c3f-4e1a-8b2d-0f9e8d7c6b5a",
	}
}

func TestConfigFromAppSettings(t *testing.T) {
	env := appSettings()
	c, err := azfunc.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != "37011" || c.Apply || len(c.WebhookSecrets) != 1 || len(c.SlackSecrets) != 0 ||
		strings.Join(c.Subscriptions, ",") != "6f2c1e0a-1b2c-4d5e-8f90-1a2b3c4d5e6f,00000000-1111-2222-3333-444444444444" {
		t.Fatalf("config = %+v", c)
	}
	logged := fmt.Sprint(c.LogValue())
	if strings.Contains(logged, "azure-approval-secret") {
		t.Fatalf("LogValue shows the webhook secret: %s", logged)
	}
}

func TestConfigRefuses(t *testing.T) {
	tests := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"CLOUDTRIM_LAKE_URL": ""}, "set CLOUDTRIM_LAKE_URL"},
		{map[string]string{"CLOUDTRIM_WEBHOOK_SECRET": ""}, "set CLOUDTRIM_WEBHOOK_SECRET"},
		{map[string]string{"CLOUDTRIM_WEBHOOK_SECRET": "@Microsoft.KeyVault(SecretUri=https://ct.vault.azure.net/secrets/approval/)"}, "unresolved Key Vault reference"},
		{map[string]string{"CLOUDTRIM_SLACK_SIGNING_SECRET": "@Microsoft.KeyVault(VaultName=ct;SecretName=slack)"}, "CLOUDTRIM_SLACK_SIGNING_SECRET is an unresolved Key Vault reference"},
		{map[string]string{"CLOUDTRIM_WEBHOOK_SECRET": "short"}, "shorter than 16"},
		{map[string]string{"CLOUDTRIM_SUBSCRIPTIONS": "prod"}, `"prod" is not a subscription ID`},
		{map[string]string{"CLOUDTRIM_APPLY": "yes"}, `CLOUDTRIM_APPLY="yes"`},
		{map[string]string{"CLOUDTRIM_QUEUE_URL": "cloudtrim-actions"}, "CLOUDTRIM_QUEUE_URL"},
		{map[string]string{"CLOUDTRIM_REPORT_URL": "http://reports.example.com"}, "CLOUDTRIM_REPORT_URL"},
		{map[string]string{"CLOUDTRIM_NOTIFY_URL": "hooks.slack.com/x"}, "CLOUDTRIM_NOTIFY_URL"},
		{map[string]string{"CLOUDTRIM_BREAKER_COOLDOWN": "5s"}, "CLOUDTRIM_BREAKER_COOLDOWN"},
	}
	for _, tt := range tests {
		env := appSettings()
		for k, v := range tt.set {
			env[k] = v
		}
		_, err := azfunc.ConfigFromEnv(func(k string) string { return env[k] })
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ConfigFromEnv with %v = %v; want ErrInvalid containing %q", tt.set, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "azure-approval-secret") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	env := appSettings()
	env["CLOUDTRIM_BREAKER_COOLDOWN"] = "30m"
	env["CLOUDTRIM_WEBHOOK_SECRET"] = "old-approval-secret-0123456789, new-approval-secret-0123456789"
	c, err := azfunc.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.BreakerCoolDown != 30*time.Minute || len(c.WebhookSecrets) != 2 {
		t.Fatalf("rotation and breaker: %+v, %v", c, err)
	}
}
