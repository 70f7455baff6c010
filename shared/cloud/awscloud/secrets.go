package awscloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MinSecretBytes is the shortest webhook secret accepted.
const MinSecretBytes = 16

// WebhookSecrets reads the approval webhook's HMAC secret from Secrets
// Manager: the current version and, when there is one, the previous
// version, so that approvals signed just before a rotation still verify.
// The values are returned, never logged; errors name the secret's ARN,
// not its value.
func WebhookSecrets(ctx context.Context, cfg aws.Config, arn string) ([][]byte, error) {
	if arn == "" {
		return nil, fmt.Errorf("%w: no approval secret configured (CLOUDTRIM_WEBHOOK_SECRET_ARN)", domain.ErrInvalid)
	}
	c := secretsmanager.NewFromConfig(cfg)
	var out [][]byte
	for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		v, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
		if err != nil {
			err = mapErr("secretsmanager GetSecretValue "+arn+" "+stage, err)
			if stage == "AWSPREVIOUS" && errors.Is(err, domain.ErrNotFound) {
				break // never rotated
			}
			return nil, err
		}
		b := []byte(aws.ToString(v.SecretString))
		if len(b) == 0 {
			b = v.SecretBinary
		}
		if len(b) < MinSecretBytes {
			if stage == "AWSPREVIOUS" {
				break
			}
			return nil, fmt.Errorf("%w: secret %s (%s) is shorter than %d bytes", domain.ErrInvalid, arn, stage, MinSecretBytes)
		}
		out = append(out, b)
	}
	return out, nil
}
