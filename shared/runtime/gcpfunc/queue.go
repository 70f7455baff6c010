package gcpfunc

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/api/option"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// openQueue opens the actions topic and its dead-letter topic for the
// approve function (which publishes approved actions) and the actuate
// function (which publishes held and unreadable ones). Neither pulls:
// Eventarc pushes the actions subscription's messages to actuate, so
// the queue's subscription names are only what the driver requires.
func openQueue(ctx context.Context, cfg Config, deps Deps) (funcapp.Queue, func() error, error) {
	project, topic, ok := splitTopic(cfg.ActionsTopic)
	if !ok {
		return nil, nil, fmt.Errorf("%w: CLOUDTRIM_ACTIONS_TOPIC=%q: want projects/<project>/topics/<topic>", domain.ErrInvalid, cfg.ActionsTopic)
	}
	dead := topic + pubsubqueue.DeadLetterSuffix
	if cfg.DeadLetterTopic != "" {
		dlProject, dlTopic, ok := splitTopic(cfg.DeadLetterTopic)
		if !ok || dlProject != project {
			return nil, nil, fmt.Errorf("%w: CLOUDTRIM_DEAD_LETTER_TOPIC=%q: want a topic of project %s, the actions topic's", domain.ErrInvalid, cfg.DeadLetterTopic, project)
		}
		dead = dlTopic
	}
	q, err := pubsubqueue.New(ctx, pubsubqueue.Config{Project: project, Topic: topic, Subscription: topic,
		DeadLetterTopic: dead, DeadLetterSubscription: dead + "-sub", Options: append(append([]option.ClientOption{}, deps.Options...), deps.PubSubOptions...), Now: deps.Now})
	if err != nil {
		return nil, nil, err
	}
	return q, q.Close, nil
}

// splitTopic splits projects/<project>/topics/<topic>.
func splitTopic(name string) (project, topic string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}
