#!/usr/bin/env bash
# Deploys cloudtrim on Google Cloud with gcloud: the lake bucket, the Pub/Sub topics, one service
# account per function, the secrets, the image (built by Cloud Build from dist/gcp), four Cloud
# Run services, their Eventarc triggers and the Cloud Scheduler job. Every step describes before
# it creates and updates what exists, so running it again converges.
#
# usage: infra/gcp/deploy.sh --project ID --region REGION [options]
#
#   --project ID               project the functions, lake and topics live in (required; also CLOUDTRIM_GCP_PROJECT)
#   --region REGION            region of Cloud Run, Artifact Registry, the triggers and the job (required; also CLOUDTRIM_GCP_REGION)
#   --bucket NAME              the lake bucket (default <project>-cloudtrim-lake; also CLOUDTRIM_GCP_BUCKET)
#   --lake-location LOCATION   the lake's location, a region or a multi-region such as EU (default the region)
#   --projects P1,P2           projects to collect (default the project; also CLOUDTRIM_GCP_PROJECTS)
#   --change-projects P1,P2    projects the actuator may change, among --projects (default --projects)
#   --billing-export-table T   the Cloud Billing export to BigQuery, project.dataset.table (optional)
#   --billing-query-project P  project the billing queries run in (default the table's project)
#   --schedule CRON            collection schedule, unix-cron with five fields (default "0 5 * * *")
#   --time-zone TZ             the schedule's time zone (default UTC)
#   --optin-label KEY          label whose value must be "true" before the actuator changes a resource,
#                              and the short name of the tag key the actuator's IAM condition checks (default cloudtrim-optin)
#   --optin-tag-key ORG/KEY    an existing organization tag key to condition on instead of one key per project
#   --apply                    let the actuator change resources (default: dry run, and no write role)
#   --kill-switch              make the actuator defer every change (CLOUDTRIM_KILL_SWITCH=1)
#   --breaker-threshold N      consecutive failed changes that open the circuit breaker, 1 to 1000 (default 5)
#   --breaker-cooldown D       how long it stays open, 1m to 24h, for example 15m or 1h (default 15m)
#   --report-url URL           https URL where people read the lake's plans/ (optional)
#   --webhook-secret-file F    the approval webhook's HMAC key, from a file or - for stdin (default: generated once)
#   --slack-secret-file F      the Slack app's signing secret (optional)
#   --notify-url-file F        the https URL told of new plans, a credential kept in Secret Manager (optional)
#   --version V                image tag (default git describe of a clean checkout; also CLOUDTRIM_VERSION)
#   --dist DIR                 a dist/gcp built earlier (cloudtrim-gcp and Dockerfile) instead of make package-gcp
#   --dry-run                  print the gcloud commands instead of running them
#
# Needs gcloud, logged in, with the right to enable services, create buckets, topics, service
# accounts, secrets, custom roles, tag keys and Cloud Run services in the project, and to grant
# roles in every project of --projects and --change-projects; also make and go unless --dist is
# given. It never prompts and never prints a secret.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# Dry-run output goes to fd 3, the script's stdout, even from inside $(...).
exec 3>&1
export CLOUDSDK_CORE_DISABLE_PROMPTS=1

usage() { sed -n '7,32p' "$0" | sed 's/^# \{0,1\}//'; }
log() { echo "deploy.sh: $*" >&2; }
die() {
	echo "deploy.sh: $*" >&2
	exit 1
}

project="${CLOUDTRIM_GCP_PROJECT:-}"
region="${CLOUDTRIM_GCP_REGION:-}"
bucket="${CLOUDTRIM_GCP_BUCKET:-}"
lake_location=""
projects="${CLOUDTRIM_GCP_PROJECTS:-}"
change_projects=""
billing_table=""
billing_query_project=""
schedule="0 5 * * *"
time_zone="UTC"
optin_label="cloudtrim-optin"
optin_tag_key=""
apply=false
kill_switch=false
breaker_threshold=5
breaker_cooldown=15m
report_url=""
webhook_secret_file=""
slack_secret_file=""
notify_url_file=""
version="${CLOUDTRIM_VERSION:-}"
dist=""
dry_run=false

while [ $# -gt 0 ]; do
	case "$1" in
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
	esac
	case "$1" in
	--apply | --kill-switch | --dry-run | -h | --help) ;;
	--*) [ $# -ge 2 ] || die "$1 needs a value" ;;
	esac
	case "$1" in
	--project) project="$2" ;;
	--region) region="$2" ;;
	--bucket) bucket="$2" ;;
	--lake-location) lake_location="$2" ;;
	--projects) projects="$2" ;;
	--change-projects) change_projects="$2" ;;
	--billing-export-table) billing_table="$2" ;;
	--billing-query-project) billing_query_project="$2" ;;
	--schedule) schedule="$2" ;;
	--time-zone) time_zone="$2" ;;
	--optin-label) optin_label="$2" ;;
	--optin-tag-key) optin_tag_key="$2" ;;
	--breaker-threshold) breaker_threshold="$2" ;;
	--breaker-cooldown) breaker_cooldown="$2" ;;
	--report-url) report_url="$2" ;;
	--webhook-secret-file) webhook_secret_file="$2" ;;
	--slack-secret-file) slack_secret_file="$2" ;;
	--notify-url-file) notify_url_file="$2" ;;
	--version) version="$2" ;;
	--dist) dist="$2" ;;
	--apply) apply=true ;;
	--kill-switch) kill_switch=true ;;
	--dry-run) dry_run=true ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		die "unknown argument $1"
		;;
	esac
	case "$1" in
	--apply | --kill-switch | --dry-run) shift ;;
	*) shift 2 ;;
	esac
done

# ------------------------------------------------------------------ validation
# Everything is checked before the first gcloud call, so a bad input changes nothing.

project_re='^[a-z][a-z0-9-]{4,28}[a-z0-9]$'

[ -n "$project" ] || die "--project is required (the project ID to deploy into; or set CLOUDTRIM_GCP_PROJECT)"
[[ "$project" =~ $project_re ]] || die "--project: \"$project\" is not a project ID (6 to 30 lower-case letters, digits and hyphens, starting with a letter)"
[ -n "$region" ] || die "--region is required (a Cloud Run region such as europe-west1; or set CLOUDTRIM_GCP_REGION)"
[[ "$region" =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "--region: \"$region\" is not a region name such as europe-west1"

bucket="${bucket:-$project-cloudtrim-lake}"
# Cloud Storage's naming rules for a bucket without dots (dotted names need domain verification).
if ! [[ "$bucket" =~ ^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$ ]] || [[ "$bucket" == goog* ]] || [[ "$bucket" == *google* ]]; then
	die "--bucket: \"$bucket\" is not a bucket name (3 to 63 lower-case letters, digits, hyphens and underscores, starting and ending with a letter or digit, not starting with goog, not containing google)"
fi
lake_location="${lake_location:-$region}"
[[ "$lake_location" =~ ^[A-Za-z0-9-]+$ ]] || die "--lake-location: \"$lake_location\" is not a Cloud Storage location (a region, a dual-region or a multi-region such as EU)"

# split_projects FLAG VALUE sets parsed to the project IDs of a comma-separated list, or dies
# naming FLAG.
split_projects() {
	local p list
	parsed=()
	IFS=',' read -r -a list <<<"$2"
	for p in "${list[@]}"; do
		p="${p//[[:space:]]/}"
		[ -n "$p" ] || continue
		[[ "$p" =~ $project_re ]] || die "$1: \"$p\" is not a project ID (6 to 30 lower-case letters, digits and hyphens, starting with a letter)"
		[[ " ${parsed[*]} " == *" $p "* ]] || parsed+=("$p")
	done
	[ "${#parsed[@]}" -gt 0 ] || die "$1: \"$2\" names no project"
}
split_projects --projects "${projects:-$project}"
read_list=("${parsed[@]}")
split_projects --change-projects "${change_projects:-${projects:-$project}}"
change_list=("${parsed[@]}")
for p in "${change_list[@]}"; do
	# The actuator acts on planned resources only, and plans come from what was collected.
	[[ " ${read_list[*]} " == *" $p "* ]] || die "--change-projects: $p is not among --projects (${read_list[*]}): the actuator changes only collected projects"
done
read_csv="$(IFS=,; echo "${read_list[*]}")"
change_csv="$(IFS=,; echo "${change_list[*]}")"

if [ -n "$billing_table" ]; then
	[[ "$billing_table" =~ ^([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_-]{1,1024})$ ]] ||
		die "--billing-export-table: \"$billing_table\" is not project.dataset.table (the BigQuery table of the Cloud Billing export)"
	billing_project="${BASH_REMATCH[1]}"
	billing_dataset="${BASH_REMATCH[2]}"
	billing_query_project="${billing_query_project:-$billing_project}"
fi
if [ -n "$billing_query_project" ]; then
	[ -n "$billing_table" ] || die "--billing-query-project needs --billing-export-table"
	[[ "$billing_query_project" =~ $project_re ]] || die "--billing-query-project: \"$billing_query_project\" is not a project ID"
fi

# Five unix-cron fields: minute hour day-of-month month day-of-week.
read -r -a cron_fields <<<"$schedule"
if [ "${#cron_fields[@]}" -ne 5 ]; then
	die "--schedule: \"$schedule\" is not a unix-cron expression with five fields (minute hour day month weekday, for example \"0 5 * * *\")"
fi
for f in "${cron_fields[@]}"; do
	[[ "$f" =~ ^[0-9A-Za-z*/,-]+$ ]] || die "--schedule: \"$schedule\": field \"$f\" is not a cron field"
done
[[ "$time_zone" =~ ^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$ ]] || die "--time-zone: \"$time_zone\" is not a tz database name such as UTC or Europe/Paris"

# The label key and the tag key's short name are the same word: a label key's rules, ending
# with a letter or digit as a tag key must.
[[ "$optin_label" =~ ^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$ ]] ||
	die "--optin-label: \"$optin_label\" is not a label key that can also name a tag key (lower-case letters, digits, - and _, starting with a letter, ending with a letter or digit, at most 63)"
if [ -n "$optin_tag_key" ]; then
	[[ "$optin_tag_key" =~ ^[0-9]+/[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$ ]] ||
		die "--optin-tag-key: \"$optin_tag_key\" is not an organization tag key's namespaced name (ORGANIZATION_ID/SHORT_NAME)"
fi

if ! [[ "$breaker_threshold" =~ ^[1-9][0-9]{0,3}$ ]] || [ "$breaker_threshold" -gt 1000 ]; then
	die "--breaker-threshold: \"$breaker_threshold\" is not a whole number from 1 to 1000"
fi
[[ "$breaker_cooldown" =~ ^([0-9]{1,5})(m|h)$ ]] || die "--breaker-cooldown: \"$breaker_cooldown\" is not a duration such as 15m or 1h"
minutes=$((10#${BASH_REMATCH[1]}))
[ "${BASH_REMATCH[2]}" = m ] || minutes=$((minutes * 60))
if [ "$minutes" -lt 1 ] || [ "$minutes" -gt 1440 ]; then
	die "--breaker-cooldown: \"$breaker_cooldown\" is not between 1m and 24h"
fi

# The environment is passed as one --set-env-vars with | as the separator (project lists hold
# commas), so no value may hold one.
if [ -n "$report_url" ]; then
	[[ "$report_url" =~ ^https://[^/?#[:space:]|@]+(/[^?#[:space:]|]*)?$ ]] ||
		die "--report-url: \"$report_url\" is not an https URL without query, credentials or |"
fi

if [ -z "$version" ]; then
	version="$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || true)"
	[ -n "$version" ] || die "--version is required outside a git checkout (the image tag, for example v1.2.0)"
	# An existing tag is not built again, and two different uncommitted states would share one.
	[[ "$version" != *-dirty ]] || die "--version is required: the checkout has uncommitted changes, so git describe ($version) names no one build"
fi
[[ "$version" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--version: \"$version\" is not an image tag (letters, digits, _ . and -, at most 128)"

if [ -n "$dist" ]; then
	for f in cloudtrim-gcp Dockerfile; do
		[ -f "$dist/$f" ] || die "--dist: $dist has no $f (make package-gcp builds dist/gcp)"
	done
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 700 "$stage"

# take_secret FLAG FILE MIN copies a secret from FILE (- for stdin) into the stage directory
# without its line ends and prints the copy's path. The value is never held in a variable.
take_secret() {
	local flag="$1" src="$2" min="$3" dst
	dst="$stage/${flag#--}"
	if [ "$src" = - ]; then
		(umask 077 && tr -d '\r\n' >"$dst")
	else
		[ -r "$src" ] || die "$flag: cannot read $src"
		(umask 077 && tr -d '\r\n' <"$src" >"$dst")
	fi
	[ "$(wc -c <"$dst")" -ge "$min" ] || die "$flag: the secret in $src is shorter than $min characters"
	echo "$dst"
}
webhook_secret=""
slack_secret=""
notify_secret=""
if [ -n "$webhook_secret_file" ]; then webhook_secret="$(take_secret --webhook-secret-file "$webhook_secret_file" 16)"; fi
if [ -n "$slack_secret_file" ]; then slack_secret="$(take_secret --slack-secret-file "$slack_secret_file" 16)"; fi
if [ -n "$notify_url_file" ]; then
	notify_secret="$(take_secret --notify-url-file "$notify_url_file" 9)"
	[ "$(head -c 8 "$notify_secret")" = "https://" ] || die "--notify-url-file: the URL in $notify_url_file does not start with https://"
fi
# Stdin has been read if it held a secret; nothing below may prompt.
exec </dev/null

# --------------------------------------------------------------------- gcloud

# gc runs gcloud; with --dry-run it prints the command instead. Every gcloud call goes through
# here, so that a test can stand a fake gcloud first on PATH and see them all.
gc() {
	if $dry_run; then
		local line="gcloud" a q
		for a in "$@"; do
			printf -v q '%q' "$a"
			line+=" $q"
		done
		echo "$line" >&3
		for a in "$@"; do
			case "$a" in
			--condition-from-file=*) echo "#   ${a#*=}: $(tr -d '\n' <"${a#*=}")" >&3 ;;
			esac
		done
		return 0
	fi
	gcloud "$@"
}

# exists ARGS... reports whether a gcloud describe finds the resource. A dry run assumes it does
# not, so that it prints every command a first deployment runs.
exists() {
	gc "$@" --format=none >/dev/null 2>&1 && ! $dry_run
}

# value PLACEHOLDER ARGS... prints what a gcloud lookup prints; a dry run prints PLACEHOLDER.
value() {
	local placeholder="$1"
	shift
	gc "$@" || return
	if $dry_run; then echo "$placeholder"; fi
}

# gc_stdin FILE ARGS... runs gcloud ARGS with FILE on stdin (a secret: it never reaches argv).
gc_stdin() {
	local file="$1"
	shift
	if $dry_run; then
		gc "$@"
		echo "#   stdin: $file" >&3
		return 0
	fi
	gc "$@" <"$file"
}

# bind ARGS... adds an IAM policy binding, retried for a minute: a service account created a
# moment ago can take that long to be accepted in a policy.
bind() {
	local i
	for i in 1 2 3 4 5 6; do
		gc "$@" --format=none >/dev/null && return 0
		[ "$i" = 6 ] || sleep 10
	done
	die "could not add the IAM binding: gcloud $*"
}

# condition FILE TITLE EXPRESSION writes an IAM condition for --condition-from-file.
condition() {
	printf '{"title": "%s", "expression": "%s"}\n' "$2" "${3//\"/\\\"}" >"$1"
}

sa() { echo "cloudtrim-$1@$project.iam.gserviceaccount.com"; }
collector="$(sa collector)"
optimizer="$(sa optimizer)"
approver="$(sa approver)"
actuator="$(sa actuator)"
invoker="$(sa invoker)"

topic_collect="projects/$project/topics/cloudtrim-collect"
topic_actions="projects/$project/topics/cloudtrim-actions"
topic_dead="projects/$project/topics/cloudtrim-actions-dead"
image="$region-docker.pkg.dev/$project/cloudtrim/cloudtrim-gcp:$version"
# Pub/Sub retries a message the actuator nacked this many times, then dead-letters it; the
# actuator reads the same number to tell a last attempt.
max_delivery_attempts=5

if ! $dry_run; then
	command -v gcloud >/dev/null || die "gcloud (the Google Cloud CLI) is not installed"
fi
account="$(value DEPLOYER auth list --filter=status:ACTIVE --format='value(account)')"
[ -n "$account" ] || die "gcloud is not logged in: run gcloud auth login"
number="$(value PROJECT_NUMBER projects describe "$project" --format='value(projectNumber)')"
[ -n "$number" ] || die "--project: $project has no project number: does it exist, and may $account read it?"
pubsub_agent="service-$number@gcp-sa-pubsub.iam.gserviceaccount.com"
log "deploying cloudtrim $version to $project ($region) as $account"

# ----------------------------------------------------------------------- APIs

gc services enable --project="$project" \
	compute.googleapis.com monitoring.googleapis.com cloudresourcemanager.googleapis.com \
	cloudbilling.googleapis.com bigquery.googleapis.com run.googleapis.com eventarc.googleapis.com \
	pubsub.googleapis.com cloudscheduler.googleapis.com secretmanager.googleapis.com \
	cloudbuild.googleapis.com artifactregistry.googleapis.com storage.googleapis.com iam.googleapis.com

# ---------------------------------------------------------------------- image

if ! exists artifacts repositories describe cloudtrim --location="$region" --project="$project"; then
	gc artifacts repositories create cloudtrim --location="$region" --project="$project" \
		--repository-format=docker --description="cloudtrim images"
fi
# A tag names one build: an image that is already there is not built again.
if ! exists artifacts docker images describe "$image" --project="$project"; then
	if [ -z "$dist" ]; then
		dist="$repo/dist/gcp"
		if $dry_run; then
			echo "make -C $repo package-gcp" >&3
		else
			log "building dist/gcp (make package-gcp)"
			make -C "$repo" package-gcp >&2
		fi
	fi
	log "building $image with Cloud Build"
	gc builds submit "$dist" --tag="$image" --project="$project"
fi

# ----------------------------------------------------------------------- lake

# Protections are set on create and enforced again on every run, so a bucket made by hand or
# changed since converges too.
if ! exists storage buckets describe "gs://$bucket" --project="$project"; then
	gc storage buckets create "gs://$bucket" --project="$project" --location="$lake_location" \
		--default-storage-class=STANDARD --uniform-bucket-level-access --public-access-prevention
fi
gc storage buckets update "gs://$bucket" --project="$project" --versioning \
	--uniform-bucket-level-access --public-access-prevention --lifecycle-file="$here/lake-lifecycle.json"

# --------------------------------------------------------------------- topics

for t in cloudtrim-collect cloudtrim-actions cloudtrim-actions-dead; do
	exists pubsub topics describe "$t" --project="$project" || gc pubsub topics create "$t" --project="$project"
done
# Nothing dead-lettered is lost: this subscription keeps it 7 days and never expires.
dead_sub_args=(--project="$project" --message-retention-duration=7d --ack-deadline=60 --expiration-period=never)
if exists pubsub subscriptions describe cloudtrim-actions-dead-sub --project="$project"; then
	gc pubsub subscriptions update cloudtrim-actions-dead-sub "${dead_sub_args[@]}"
else
	gc pubsub subscriptions create cloudtrim-actions-dead-sub --topic="$topic_dead" "${dead_sub_args[@]}"
fi

# ----------------------------------------------------------- service accounts

for name in collector optimizer approver actuator invoker; do
	if ! exists iam service-accounts describe "$(sa "$name")" --project="$project"; then
		gc iam service-accounts create "cloudtrim-$name" --project="$project" --display-name="cloudtrim $name"
	fi
done

# -------------------------------------------------------------------- secrets

# ensure_secret NAME FILE [generate] makes the secret NAME hold FILE's value: it creates the
# secret, or adds a version when it exists and FILE is given. Given generate and no FILE, a
# missing secret is created with 32 random bytes in hex. It reports whether the secret exists
# afterwards; a failure to write it ends the script.
ensure_secret() {
	local name="$1" file="$2" generate="${3:-}"
	if exists secrets describe "$name" --project="$project"; then
		if [ -n "$file" ]; then
			log "adding a version to secret $name"
			gc_stdin "$file" secrets versions add "$name" --project="$project" --data-file=- ||
				die "could not add a version to secret $name"
		fi
		return 0
	fi
	if [ -z "$file" ]; then
		[ "$generate" = generate ] || return 1
		file="$stage/$name-generated"
		if ! $dry_run; then
			command -v openssl >/dev/null || die "openssl is needed to generate secret $name; or pass its value in a file"
			(umask 077 && openssl rand -hex 32 | tr -d '\n' >"$file")
		fi
		log "generating secret $name; read it with: gcloud secrets versions access latest --secret=$name --project=$project"
	fi
	log "creating secret $name"
	gc_stdin "$file" secrets create "$name" --project="$project" --replication-policy=automatic \
		--labels=app=cloudtrim --data-file=- || die "could not create secret $name"
}

ensure_secret cloudtrim-webhook-secret "$webhook_secret" generate
approve_secrets="CLOUDTRIM_WEBHOOK_SECRET=cloudtrim-webhook-secret:latest"
bind secrets add-iam-policy-binding cloudtrim-webhook-secret --project="$project" \
	--member="serviceAccount:$approver" --role=roles/secretmanager.secretAccessor
if ensure_secret cloudtrim-slack-signing-secret "$slack_secret"; then
	approve_secrets+=",CLOUDTRIM_SLACK_SIGNING_SECRET=cloudtrim-slack-signing-secret:latest"
	bind secrets add-iam-policy-binding cloudtrim-slack-signing-secret --project="$project" \
		--member="serviceAccount:$approver" --role=roles/secretmanager.secretAccessor
fi
optimize_secrets=""
if ensure_secret cloudtrim-notify-url "$notify_secret"; then
	optimize_secrets="CLOUDTRIM_NOTIFY_URL=cloudtrim-notify-url:latest"
	bind secrets add-iam-policy-binding cloudtrim-notify-url --project="$project" \
		--member="serviceAccount:$optimizer" --role=roles/secretmanager.secretAccessor
fi

# ---------------------------------------------------------- lake and topic IAM

# objectUser on the bucket, not objectCreator and objectViewer: the lake overwrites its small
# pointer objects with generation preconditions, and overwriting needs storage.objects.delete.
for who in "$collector" "$optimizer" "$approver" "$actuator"; do
	bind storage buckets add-iam-policy-binding "gs://$bucket" --project="$project" \
		--member="serviceAccount:$who" --role=roles/storage.objectUser
done
bind pubsub topics add-iam-policy-binding cloudtrim-actions --project="$project" \
	--member="serviceAccount:$approver" --role=roles/pubsub.publisher
# The actuator sends deferred actions back to the queue and dead-letters bad ones with a reason.
for t in cloudtrim-actions cloudtrim-actions-dead; do
	bind pubsub topics add-iam-policy-binding "$t" --project="$project" \
		--member="serviceAccount:$actuator" --role=roles/pubsub.publisher
done

# ------------------------------------------------------------------ collector

# ensure_role PROJECT ID FILE creates or updates the custom role ID of PROJECT from FILE.
ensure_role() {
	if exists iam roles describe "$2" --project="$1"; then
		gc iam roles update "$2" --project="$1" --file="$3"
	else
		gc iam roles create "$2" --project="$1" --file="$3"
	fi
}

for p in "${read_list[@]}"; do
	for role in roles/compute.viewer roles/monitoring.viewer roles/browser; do
		bind projects add-iam-policy-binding "$p" --member="serviceAccount:$collector" --role="$role" --condition=None
	done
	# Bucket metadata without ACLs: no predefined role lists buckets without more.
	ensure_role "$p" cloudtrimCollectorStorage "$here/collector-storage-role.json"
	bind projects add-iam-policy-binding "$p" --member="serviceAccount:$collector" \
		--role="projects/$p/roles/cloudtrimCollectorStorage" --condition=None
done
if [ -n "$billing_table" ]; then
	bind projects add-iam-policy-binding "$billing_query_project" --member="serviceAccount:$collector" \
		--role=roles/bigquery.jobUser --condition=None
	# gcloud has no dataset-level IAM command; a condition on the dataset's resource name gives
	# the same reach: the export's dataset and its tables, nothing else in that project.
	dataset="projects/$billing_project/datasets/$billing_dataset"
	condition "$stage/billing-condition.json" "cloudtrim billing export dataset" \
		"resource.name == \"$dataset\" || resource.name.startsWith(\"$dataset/\")"
	bind projects add-iam-policy-binding "$billing_project" --member="serviceAccount:$collector" \
		--role=roles/bigquery.dataViewer --condition-from-file="$stage/billing-condition.json"
fi

# ------------------------------------------------------------------- actuator

for p in "${change_list[@]}"; do
	ensure_role "$p" cloudtrimActuatorRead "$here/actuator-read-role.json"
	ensure_role "$p" cloudtrimActuator "$here/actuator-role.json"
	ensure_role "$p" cloudtrimActuatorSnapshot "$here/actuator-snapshot-role.json"
	bind projects add-iam-policy-binding "$p" --member="serviceAccount:$actuator" \
		--role="projects/$p/roles/cloudtrimActuatorRead" --condition=None

	# The IAM side of the opt-in: a Resource Manager tag, <key>=true, which only people with
	# roles/resourcemanager.tagUser can attach and the actuator cannot.
	key="$optin_tag_key"
	if [ -z "$key" ]; then
		key="$p/$optin_label"
		if ! exists resource-manager tags keys describe "$key"; then
			gc resource-manager tags keys create "$optin_label" --parent="projects/$p" \
				--description="cloudtrim may change a resource that carries $optin_label=true (and the label of the same name)"
		fi
		if ! exists resource-manager tags values describe "$key/true"; then
			gc resource-manager tags values create true --parent="$key" \
				--description="cloudtrim may change this resource"
		fi
	fi

	if $apply; then
		condition "$stage/optin-$p.json" "cloudtrim opted-in resources" "resource.matchTag('$key', 'true')"
		bind projects add-iam-policy-binding "$p" --member="serviceAccount:$actuator" \
			--role="projects/$p/roles/cloudtrimActuator" --condition-from-file="$stage/optin-$p.json"
		# A snapshot does not exist, so carries no tag, until it is created: this role cannot be
		# conditioned on the tag. It cannot read a disk; creating a snapshot of one also needs
		# compute.disks.createSnapshot on it, which the conditioned role holds.
		bind projects add-iam-policy-binding "$p" --member="serviceAccount:$actuator" \
			--role="projects/$p/roles/cloudtrimActuatorSnapshot" --condition=None
	else
		# A dry run holds no write role, whatever the code does: remove what an earlier --apply
		# granted.
		for role in cloudtrimActuator cloudtrimActuatorSnapshot; do
			bound="$(value "" projects get-iam-policy "$p" --flatten='bindings[].members' \
				--filter="bindings.role=projects/$p/roles/$role AND bindings.members=serviceAccount:$actuator" \
				--format='value(bindings.role)')"
			if [ -n "$bound" ]; then
				log "dry run: removing $role from the actuator in $p"
				gc projects remove-iam-policy-binding "$p" --member="serviceAccount:$actuator" \
					--role="projects/$p/roles/$role" --all --format=none
			fi
		done
	fi
done

# ------------------------------------------------------------------- services

# join SEP ITEMS... joins ITEMS with SEP.
join() {
	local sep="$1" out="$2"
	shift 2
	for x in "$@"; do out+="$sep$x"; done
	echo "$out"
}

# deploy TARGET SERVICE_ACCOUNT SECRETS ENV... FLAGS... deploys the Cloud Run service
# cloudtrim-TARGET from the image with the environment every function shares plus ENV (KEY=VALUE
# words) and the Secret Manager references SECRETS ("" for none). The remaining words, from the
# first that starts with --, are gcloud run deploy flags.
deploy() {
	local target="$1" account="$2" secrets="$3"
	shift 3
	local env=("FUNCTION_TARGET=$target" "CLOUDTRIM_LAKE_URL=gs://$bucket" "GOOGLE_CLOUD_PROJECT=$project"
		"CLOUDTRIM_OPTIN_TAG=$optin_label")
	while [ $# -gt 0 ] && [[ "$1" != --* ]]; do
		env+=("$1")
		shift
	done
	local secret_args=(--clear-secrets)
	[ -z "$secrets" ] || secret_args=(--set-secrets="$secrets")
	log "deploying cloudtrim-$target"
	gc run deploy "cloudtrim-$target" --project="$project" --region="$region" --image="$image" \
		--service-account="$account" --set-env-vars="^|^$(join '|' "${env[@]}")" "${secret_args[@]}" \
		--labels=app=cloudtrim --cpu=1 "$@"
}

collect_env=("CLOUDTRIM_PROJECTS=$read_csv")
if [ -n "$billing_table" ]; then
	collect_env+=("CLOUDTRIM_BILLING_EXPORT_TABLE=$billing_table" "CLOUDTRIM_BILLING_QUERY_PROJECT=$billing_query_project")
fi
# One collection at a time; a long one may outlive the 600 s acknowledgement deadline of
# Pub/Sub push (see the README).
deploy collect "$collector" "" "${collect_env[@]}" \
	--no-allow-unauthenticated --ingress=internal --timeout=3600 --memory=2Gi --concurrency=1 --max-instances=1

optimize_env=()
[ -z "$report_url" ] || optimize_env+=("CLOUDTRIM_REPORT_URL=$report_url")
# The bucket trigger fires for every object the lake gets, and the optimizer ignores all but
# snapshot manifests in milliseconds: a few requests share an instance.
deploy optimize "$optimizer" "$optimize_secrets" "${optimize_env[@]}" \
	--no-allow-unauthenticated --ingress=internal --timeout=900 --memory=2Gi --concurrency=4 --max-instances=3

# The webhook is public because chat tools cannot present Google credentials: every request
# must carry a valid HMAC (or Slack) signature, checked by the function before anything else.
deploy approve "$approver" "$approve_secrets" "CLOUDTRIM_ACTIONS_TOPIC=$topic_actions" \
	--allow-unauthenticated --ingress=all --timeout=30 --memory=512Mi --concurrency=20 --max-instances=5

actuate_env=("CLOUDTRIM_APPLY=$apply" "CLOUDTRIM_PROJECTS=$change_csv" "CLOUDTRIM_ACTIONS_TOPIC=$topic_actions"
	"CLOUDTRIM_DEAD_LETTER_TOPIC=$topic_dead" "CLOUDTRIM_MAX_DELIVERY_ATTEMPTS=$max_delivery_attempts"
	"CLOUDTRIM_BREAKER_THRESHOLD=$breaker_threshold" "CLOUDTRIM_BREAKER_COOLDOWN=$breaker_cooldown")
if $kill_switch; then actuate_env+=("CLOUDTRIM_KILL_SWITCH=1"); fi
# Two deliveries at most change resources at once, which keeps the blast-radius caps and the
# circuit breaker meaningful. 600 s is Pub/Sub's longest push acknowledgement deadline and the
# provider's wait for one Compute Engine operation.
deploy actuate "$actuator" "" "${actuate_env[@]}" \
	--no-allow-unauthenticated --ingress=internal --timeout=600 --memory=512Mi --concurrency=1 --max-instances=2

# ------------------------------------------------------------------- triggers

for s in collect optimize actuate; do
	bind run services add-iam-policy-binding "cloudtrim-$s" --project="$project" --region="$region" \
		--member="serviceAccount:$invoker" --role=roles/run.invoker
done
bind projects add-iam-policy-binding "$project" --member="serviceAccount:$invoker" \
	--role=roles/eventarc.eventReceiver --condition=None
# Pub/Sub signs the push requests of the triggers' subscriptions as the invoker.
bind iam service-accounts add-iam-policy-binding "$invoker" --project="$project" \
	--member="serviceAccount:$pubsub_agent" --role=roles/iam.serviceAccountTokenCreator
# Cloud Storage publishes the bucket's events to Eventarc's topic as its service agent.
gcs_agent="$(value "service-$number@gs-project-accounts.iam.gserviceaccount.com" storage service-agent --project="$project")"
bind projects add-iam-policy-binding "$project" --member="serviceAccount:$gcs_agent" \
	--role=roles/pubsub.publisher --condition=None

# trigger NAME LOCATION SERVICE TRANSPORT_TOPIC FILTER... creates or updates the Eventarc trigger
# NAME delivering the events FILTER selects to the Cloud Run service, as the invoker.
trigger() {
	local name="$1" location="$2" service="$3" transport="$4"
	shift 4
	local args=(--project="$project" --location="$location" --destination-run-service="$service"
		--destination-run-region="$region" --service-account="$invoker")
	for f in "$@"; do args+=(--event-filters="$f"); done
	if exists eventarc triggers describe "$name" --project="$project" --location="$location"; then
		gc eventarc triggers update "$name" "${args[@]}"
	else
		[ -z "$transport" ] || args+=(--transport-topic="$transport")
		gc eventarc triggers create "$name" "${args[@]}"
	fi
}

# subscription NAME LOCATION prints the Pub/Sub subscription Eventarc made for trigger NAME.
subscription() {
	local sub
	sub="$(value "projects/$project/subscriptions/EVENTARC_SUBSCRIPTION_OF_$1" eventarc triggers describe "$1" \
		--project="$project" --location="$2" --format='value(transport.pubsub.subscription)')"
	[ -n "$sub" ] || die "Eventarc trigger $1 has no Pub/Sub subscription"
	echo "$sub"
}

pubsub_type=google.cloud.pubsub.topic.v1.messagePublished
trigger cloudtrim-collect "$region" cloudtrim-collect "$topic_collect" "type=$pubsub_type"
# A bucket's trigger lives in the bucket's location.
trigger cloudtrim-optimize "$(echo "$lake_location" | tr '[:upper:]' '[:lower:]')" cloudtrim-optimize "" \
	"type=google.cloud.storage.object.v1.finalized" "bucket=$bucket"
trigger cloudtrim-actuate "$region" cloudtrim-actuate "$topic_actions" "type=$pubsub_type"

# A push delivery waits for the service up to the acknowledgement deadline; Pub/Sub's longest
# is 600 s.
collect_sub="$(subscription cloudtrim-collect "$region")"
gc pubsub subscriptions update "$collect_sub" --project="$project" --ack-deadline=600 \
	--min-retry-delay=60s --max-retry-delay=600s
actions_sub="$(subscription cloudtrim-actuate "$region")"
# Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
# acknowledge on the source subscription.
bind pubsub topics add-iam-policy-binding cloudtrim-actions-dead --project="$project" \
	--member="serviceAccount:$pubsub_agent" --role=roles/pubsub.publisher
bind pubsub subscriptions add-iam-policy-binding "$actions_sub" --project="$project" \
	--member="serviceAccount:$pubsub_agent" --role=roles/pubsub.subscriber
gc pubsub subscriptions update "$actions_sub" --project="$project" --ack-deadline=600 \
	--min-retry-delay=10s --max-retry-delay=600s \
	--dead-letter-topic="$topic_dead" --max-delivery-attempts="$max_delivery_attempts"

# ---------------------------------------------------------------------- schedule

job_args=(--project="$project" --location="$region" --schedule="$schedule" --time-zone="$time_zone"
	--topic="$topic_collect" --message-body='{"cloudtrim":"collect"}')
if exists scheduler jobs describe cloudtrim-collect --project="$project" --location="$region"; then
	gc scheduler jobs update pubsub cloudtrim-collect "${job_args[@]}"
else
	gc scheduler jobs create pubsub cloudtrim-collect "${job_args[@]}"
fi

# ---------------------------------------------------------------------- outputs

approve_url="$(value "https://cloudtrim-approve-URL" run services describe cloudtrim-approve \
	--project="$project" --region="$region" --format='value(status.url)')"
cat <<EOF
cloudtrim $version is deployed in $project ($region)
lake:                 gs://$bucket
approval webhook:     $approve_url (requests must be signed with the secret cloudtrim-webhook-secret)
actions topic:        $topic_actions
dead-lettered actions: projects/$project/subscriptions/cloudtrim-actions-dead-sub
EOF
if $apply; then
	echo "apply is ON: approved actions change resources labelled and tagged $optin_label=true in $change_csv"
else
	echo "dry run: the actuator records what it would do and holds no write role (deploy again with --apply to change that)"
fi
