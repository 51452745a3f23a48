// Firmware images the tenant's devices can be updated to: every customer role lists them (version, model,
// file, size, SHA-256, who uploaded it and when); customer admins upload one (the file itself is the
// request body, its progress shown) and delete one. Devices get an image through a firmware job.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { FIRMWARE_IMAGES_KEY, imageLabel, useFirmwareImages } from '../../components/firmware';
import { QueryTable } from '../../components/table';
import { CopyButton, ErrorBox, Field, Modal, Page } from '../../components/ui';
import { api, unwrap, upload } from '../../lib/api';
import { useAuth } from '../../lib/auth';
import { byteSize, dateTime, timeAgo } from '../../lib/format';

/** A version as the API takes it: letters, digits and . _ + ~ - (no spaces or slashes). */
const VERSION_PATTERN = '[A-Za-z0-9._+~\\-]+';
const FILENAME_MAX = 255;

function UploadForm({ onUploaded }: { onUploaded: () => void }) {
  const [sent, setSent] = useState(0);
  const send = useMutation({
    mutationFn: ({ file, version, model }: { file: File; version: string; model: string }) => {
      const query = { version, filename: file.name.slice(0, FILENAME_MAX), ...(model && { model }) };
      return upload('/customer/firmware', query, file, setSent);
    },
    onMutate: () => setSent(0),
    onSuccess: onUploaded,
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    send.mutate({
      file: form.get('file') as File,
      version: String(form.get('version')).trim(),
      model: String(form.get('model')).trim(),
    });
  };
  return (
    <form aria-label="Upload firmware" className="space-y-3" onSubmit={submit}>
      <Field label="Image file">
        <input className="input" type="file" name="file" required />
      </Field>
      <Field label="Version" hint="Letters, digits and . _ + ~ -, such as 2.4.1">
        <input className="input" name="version" required maxLength={64} pattern={VERSION_PATTERN} />
      </Field>
      <Field label="Model" hint="The device model it is for; empty: every model">
        <input className="input" name="model" maxLength={100} placeholder="P-100" />
      </Field>
      {send.isPending && (
        <div role="status" className="space-y-1 text-sm" data-testid="upload-progress">
          <progress className="w-full" max={1} value={sent} aria-label="Sent" />
          {sent < 1 ? `Sending… ${Math.floor(sent * 100)} %` : 'Sent: the server is storing it…'}
        </div>
      )}
      {send.error && <ErrorBox error={send.error} />}
      <button className="btn-primary" disabled={send.isPending}>
        Upload
      </button>
    </form>
  );
}

export default function Firmware() {
  const admin = useAuth((s) => s.session?.role === 'customer_admin');
  const client = useQueryClient();
  const [uploading, setUploading] = useState(false);
  const images = useFirmwareImages();
  const refresh = () => client.invalidateQueries({ queryKey: FIRMWARE_IMAGES_KEY });
  const remove = useMutation({
    mutationFn: (imageId: string) =>
      unwrap(api.DELETE('/customer/firmware/{image_id}', { params: { path: { image_id: imageId } } })),
    onSettled: refresh,
  });
  return (
    <Page
      title="Firmware"
      actions={
        admin && (
          <button className="btn-primary" onClick={() => setUploading(true)}>
            Upload image
          </button>
        )
      }
    >
      <p className="text-sm text-slate-500">
        Images your devices can be updated to. A{' '}
        <Link className="text-indigo-600 hover:underline" to="/jobs">
          firmware job
        </Link>{' '}
        sends one to the devices you choose: each downloads it, checks its SHA-256 and reports how far it got.
      </p>
      {remove.error && <ErrorBox error={remove.error} />}
      <QueryTable
        query={images}
        rows={(data) => data.images}
        rowKey={(image) => image.image_id}
        empty={admin ? 'No firmware images yet: upload one.' : 'No firmware images yet.'}
        testId="firmware-table"
        columns={[
          { header: 'Version', cell: (image) => <code className="font-semibold">{image.version}</code> },
          {
            header: 'Model',
            cell: (image) => image.model ?? <span className="text-slate-500">every model</span>,
          },
          {
            header: 'File',
            cell: (image) => (
              <div className="max-w-48 truncate" title={image.filename ?? undefined}>
                {image.filename ?? '—'}
              </div>
            ),
          },
          {
            header: 'Size',
            className: 'whitespace-nowrap tabular-nums',
            title: (image) => `${image.size_bytes} bytes`,
            cell: (image) => byteSize(image.size_bytes),
          },
          {
            header: 'SHA-256',
            cell: (image) => (
              <span className="flex items-center gap-1">
                <code className="text-xs" title={image.sha256} data-testid="sha256">
                  {image.sha256.slice(0, 12)}…
                </code>
                <CopyButton text={image.sha256} label={`SHA-256 of ${image.version}`} />
              </span>
            ),
          },
          {
            header: 'Uploaded',
            className: 'text-xs whitespace-nowrap',
            title: (image) => dateTime(image.created_at),
            cell: (image) => (
              <>
                {timeAgo(image.created_at)}
                <div className="text-slate-500">by {image.created_by ?? '—'}</div>
              </>
            ),
          },
          admin && {
            header: '',
            cell: (image) => (
              <button
                className="btn-ghost"
                disabled={remove.isPending}
                aria-label={`Delete ${image.version}`}
                onClick={() =>
                  confirm(
                    `Delete firmware ${imageLabel(image)}? Devices can no longer download it, not even through links already sent.`,
                  ) && remove.mutate(image.image_id)
                }
              >
                Delete
              </button>
            ),
          },
        ]}
      />
      <Modal open={uploading} title="Upload firmware" onClose={() => setUploading(false)}>
        <UploadForm
          onUploaded={() => {
            setUploading(false);
            void refresh();
          }}
        />
      </Modal>
    </Page>
  );
}
